"""The satisfaction engine against hand-computed figures, and the rollups:
incremental updates at ingest equal a rebuild from the raw rows."""
import datetime
import random
import subprocess
import sys

import pytest

from sync_server.scoring import report as scoring_report
from sync_server.scoring import stats as scoring
from sync_server.storage import rollup
from sync_server.storage.connection import open_db

# --- figures computed by hand -------------------------------------------


def counts4(very_unhappy, unhappy, happy, very_happy):
    return {(4, 0): very_unhappy, (4, 1): unhappy, (4, 2): happy, (4, 3): very_happy}


def test_level_scores_are_equally_spaced():
    assert [round(scoring.level_score(lv, 4), 1) for lv in range(4)] == [0, 33.3, 66.7, 100]
    assert [scoring.level_score(lv, 3) for lv in range(3)] == [0, 50, 100]
    assert [scoring.level_score(lv, 2) for lv in range(2)] == [0, 100]


def test_happyornot_example_gives_78_2():
    # 126 very happy, 60 happy, 16 unhappy, 17 very unhappy:
    # (126*100 + 60*66.67 + 16*33.33 + 17*0) / 219 = 17133.3 / 219 = 78.23
    s = scoring.summary(counts4(17, 16, 60, 126))
    assert s["happy_index"] == 78.2
    assert s["n"] == 219
    assert s["status"] == "ok"
    # positive = the two happy levels: 186 / 219 = 0.8493
    assert s["positive"] == 186
    assert s["positive_share"] == 0.8493


def test_wilson_interval_by_hand():
    # x=186, n=219, z=1.96: p=0.849315, z²/n=0.017541,
    # centre=(p+z²/2n)/(1+z²/n)=0.858086/1.017541=0.843293,
    # half=z*sqrt(p(1-p)/n+z²/4n²)/(1+z²/n)=1.96*0.024585/1.017541=0.047356
    lo, hi = scoring.wilson(186, 219)
    assert lo == pytest.approx(0.7959, abs=1e-4)
    assert hi == pytest.approx(0.8906, abs=1e-4)
    # 0 of 10: the interval still has width, from 0 to z²/(n+z²) = 0.2775
    lo, hi = scoring.wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert scoring.wilson(0, 0) is None


def test_positive_is_above_the_middle():
    assert [scoring.is_positive(lv, 4) for lv in range(4)] == [False, False, True, True]
    assert [scoring.is_positive(lv, 3) for lv in range(3)] == [False, False, True]
    assert [scoring.is_positive(lv, 2) for lv in range(2)] == [False, True]


def test_minimum_samples():
    assert scoring.summary(counts4(0, 0, 0, 9))["happy_index"] is None
    assert scoring.summary(counts4(0, 0, 0, 9))["status"] == "insufficient"
    assert scoring.summary(counts4(0, 0, 0, 9))["happy_index_raw"] == 100
    s = scoring.summary(counts4(0, 0, 5, 5))
    assert s["status"] == "indicative" and s["happy_index"] == pytest.approx(83.3, abs=0.05)
    assert scoring.summary(counts4(0, 0, 50, 49))["status"] == "indicative"
    assert scoring.summary(counts4(0, 0, 50, 50))["status"] == "ok"


def test_mixed_scales_and_filtered_share():
    # 10 votes on 2 buttons (6 happy) + 10 on 3 buttons (2,3,5):
    # (6*100 + 3*50 + 5*100) / 20 = 1250 / 20 = 62.5; filtered 5 of 25 = 0.2
    s = scoring.summary({(2, 0): 4, (2, 1): 6, (3, 0): 2, (3, 1): 3, (3, 2): 5}, filtered=5)
    assert s["happy_index"] == 62.5
    assert s["positive"] == 11
    assert s["filtered_share"] == 0.2


def test_shrinkage_toward_network_mean():
    # 20 responses at 90, network mean 70, k=30: (20*90 + 30*70) / 50 = 78
    assert scoring.shrink(90, 20, 70, k=30) == 78
    assert scoring.shrink(None, 0, 70) is None


def test_composite_needs_every_part():
    c = scoring.composite({"kiosk": 80, "qr": 60, "mystery": 90})
    # 0.4*80 + 0.3*60 + 0.3*90 = 32 + 18 + 27 = 77
    assert c == {"status": "ok", "value": 77.0, "missing": [],
                 "weights": scoring.COMPOSITE_WEIGHTS}
    c = scoring.composite({"kiosk": 80, "qr": None, "mystery": 90})
    assert c["status"] == "insufficient" and c["value"] is None and c["missing"] == ["qr"]


def test_mystery_compliance():
    assert scoring.compliance(3, 1) == 0.75
    assert scoring.compliance(0, 0) is None
    assert scoring.mystery_part(9, 0)["status"] == "insufficient"
    assert scoring.mystery_part(8, 2) == {"n": 10, "status": "ok", "score": 80.0}
    assert scoring.mystery_part(8, 2, rate=0.9)["score"] == 90.0


def test_mystery_totals_weight_the_criteria():
    # desk: A passes 3 fails 1 (weight 2), B passes 1 fails 3, 2 n/a (weight 1);
    # phone: C passes 2 (weight 1). Unweighted 6 of 10; weighted
    # (2*3 + 1*1 + 1*2) / (2*4 + 1*4 + 1*2) = 9 / 14 = 0.642857
    res = {"channels": {
        "desk": {"criteria": [{"passes": 3, "fails": 1, "na": 0, "weight": 2.0},
                              {"passes": 1, "fails": 3, "na": 2, "weight": 1.0}]},
        "phone": {"criteria": [{"passes": 2, "fails": 0, "na": 0, "weight": 1.0}]}}}
    passes, fails, rate = scoring_report.mystery_totals(res)
    assert (passes, fails) == (6, 4)
    assert rate == pytest.approx(9 / 14)
    assert scoring.mystery_part(passes, fails, rate)["score"] == 64.3


# --- rollups -------------------------------------------------------------

def ms(y, mo, d, h=0, mi=0):
    return int(datetime.datetime(y, mo, d, h, mi, tzinfo=datetime.timezone.utc)
               .timestamp() * 1000)


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "borne.db")
    for sid, tz in (("mairie", "Europe/Paris"), ("nuku-hiva", "Pacific/Marquesas"),
                    ("cayenne", "America/Cayenne")):
        db.conn.execute("INSERT INTO sites (id, name, timezone, created_ms) VALUES (?,?,?,0)",
                        (sid, sid.title(), tz))
    return db


def store_votes(db, rows, apply=True):
    """Insert votes as ingest does, calling apply_votes in the transaction."""
    c = db.conn
    c.execute("BEGIN IMMEDIATE")
    c.executemany(
        "INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
        " flags, received_ms) VALUES (:device_id, :seq, :site_id, 1, :utc_ms, :utc_ms,"
        " :level, :scale, :flags, 0)", rows)
    if apply:
        rollup.apply_votes(c, rows, source="kiosk")
    c.execute("COMMIT")


def snapshot(db):
    return db.conn.execute("SELECT * FROM rollup_hourly ORDER BY 1,2,3,4,5,6,7").fetchall()


def daily_snapshot(db):
    return db.conn.execute("SELECT * FROM rollup_daily ORDER BY 1,2,3,4,5,6").fetchall()


def daily_from_hourly(db):
    return db.conn.execute(
        "SELECT site_id, day, source, scale, level, filt, sum(n) FROM rollup_hourly"
        " GROUP BY 1,2,3,4,5,6 ORDER BY 1,2,3,4,5,6").fetchall()


def test_local_day_and_hour_follow_the_site_zone(db):
    # 2026-03-29 00:59 UTC = 01:59 CET; 01:00 UTC = 03:00 CEST (the hour 2 never exists)
    assert rollup.local_bucket("Europe/Paris", ms(2026, 3, 29, 0, 59)) == ("2026-03-29", 1)
    assert rollup.local_bucket("Europe/Paris", ms(2026, 3, 29, 1, 0)) == ("2026-03-29", 3)
    # Marquesas is UTC-9:30: 09:29 UTC is 23:59 the day before
    assert rollup.local_bucket("Pacific/Marquesas", ms(2026, 5, 2, 9, 29)) == ("2026-05-01", 23)
    assert rollup.local_bucket("Pacific/Marquesas", ms(2026, 5, 2, 9, 30)) == ("2026-05-02", 0)


def test_apply_votes_counts_and_filters(db):
    rows = [dict(device_id="k1", seq=i, site_id="mairie", utc_ms=ms(2026, 6, 1, 8, 10),
                 level=lv, scale=4, flags=fl)
            for i, (lv, fl) in enumerate([(3, 0), (3, 0), (0, 4), (2, 2), (1, 1)])]
    store_votes(db, rows)
    # 08:10 UTC is 10:10 in Paris in June; flag 1 (clock unknown) is not a filter
    assert snapshot(db) == [
        ("mairie", "2026-06-01", 10, "kiosk", 4, 0, 4, 1),
        ("mairie", "2026-06-01", 10, "kiosk", 4, 1, 0, 1),
        ("mairie", "2026-06-01", 10, "kiosk", 4, 2, 2, 1),
        ("mairie", "2026-06-01", 10, "kiosk", 4, 3, 0, 2)]
    assert rollup.versions(db, ["mairie", "cayenne"]) == {"mairie": 1, "cayenne": 0}
    # pending votes (no UTC yet) are not rolled up
    assert rollup.apply_votes(db.conn, [dict(site_id="mairie", utc_ms=None, level=0,
                                             scale=4, flags=1)]) == 0


def random_votes(rng, n, start_seq=0):
    sites = ["mairie", "nuku-hiva", "cayenne"]
    # around the autumn DST change in Paris, and New Year's Eve
    windows = [ms(2026, 10, 24), ms(2026, 12, 30)]
    rows = []
    for i in range(n):
        scale = rng.choice([2, 3, 4, 4, 4])
        rows.append(dict(
            device_id="k%d" % rng.randrange(5), seq=start_seq + i,
            site_id=rng.choice(sites),
            utc_ms=rng.choice(windows) + rng.randrange(3 * 86_400_000),
            level=rng.randrange(scale), scale=scale,
            flags=rng.choice([0, 0, 0, 0, 1, 2, 4, 6])))
    return rows


def store_qr_answers(db, rows):
    """Insert QR answers as the feedback form does, with their rollup."""
    c = db.conn
    c.execute("BEGIN IMMEDIATE")
    for r in rows:
        c.execute("INSERT INTO qr_answers (site_id, token, level, scale, created_ms)"
                  " VALUES (?, 't', ?, ?, ?)", (r["site_id"], r["level"], r["scale"], r["utc_ms"]))
        rollup.apply_votes(c, [dict(r, flags=0)], source="qr")
    c.execute("COMMIT")


def test_rebuild_equals_incremental(db):
    rng = random.Random(5)
    for b in range(20):
        store_votes(db, random_votes(rng, 150, start_seq=b * 1000))
    store_qr_answers(db, random_votes(rng, 200))
    incremental, daily = snapshot(db), daily_snapshot(db)
    assert sum(r[-1] for r in incremental) == 3200
    assert {r[3] for r in incremental} == {"kiosk", "qr"}
    assert daily == daily_from_hourly(db)
    db.conn.execute("UPDATE rollup_hourly SET n = n + 7")  # corrupt, then repair
    db.conn.execute("DELETE FROM rollup_daily WHERE level = 1")
    assert rollup.rebuild(db) == 3200
    assert snapshot(db) == incremental
    assert daily_snapshot(db) == daily
    # rebuilding one site leaves the others as they are
    assert rollup.rebuild(db, ["cayenne"]) > 0
    assert snapshot(db) == incremental


def test_rebuild_command(db, tmp_path):
    rng = random.Random(9)
    store_votes(db, random_votes(rng, 400))
    incremental = snapshot(db)
    daily = daily_snapshot(db)
    db.conn.execute("DELETE FROM rollup_hourly")
    db.conn.execute("DELETE FROM rollup_daily")
    path = str(tmp_path / "borne.db")
    out = subprocess.run([sys.executable, "-m", "sync_server.commands.cli", "rollup", "--rebuild",
                          "--db", path], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "400" in out.stdout
    assert snapshot(db) == incremental
    assert daily_snapshot(db) == daily
    bad = subprocess.run([sys.executable, "-m", "sync_server.commands.cli", "rollup", "--db", path],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_report_from_rollups(db):
    # The HappyOrNot example on 2026-06-01 in Paris, 2 of them burst-flagged
    # extra, and 12 votes the day before for the previous period.
    rows, seq = [], 0
    for level, n in ((0, 17), (1, 16), (2, 60), (3, 126)):
        for _ in range(n):
            rows.append(dict(device_id="k1", seq=seq, site_id="mairie",
                             utc_ms=ms(2026, 6, 1, 7 + seq % 3), level=level, scale=4, flags=0))
            seq += 1
    for _ in range(2):
        rows.append(dict(device_id="k1", seq=seq, site_id="mairie",
                         utc_ms=ms(2026, 6, 1, 12), level=0, scale=4, flags=4))
        seq += 1
    for i in range(12):
        rows.append(dict(device_id="k1", seq=seq, site_id="mairie",
                         utc_ms=ms(2026, 5, 31, 9), level=i % 2 + 2, scale=4, flags=0))
        seq += 1
    store_votes(db, rows)
    day = datetime.date(2026, 6, 1)
    rep = scoring_report.satisfaction(db, "mairie", day, day)
    k = rep["sources"]["kiosk"]
    assert k["happy_index"] == 78.2 and k["n"] == 219 and k["counts"] == {"4": [17, 16, 60, 126]}
    assert k["filtered"] == 2 and k["filtered_share"] == round(2 / 221, 4)
    # 07:00, 08:00, 09:00 UTC are 9, 10, 11 in Paris: 73 per hour
    assert [h["n"] for h in k["hourly"] if h["n"]] == [73, 73, 73]
    assert rep["sources"]["qr"]["status"] == "insufficient"
    assert rep["composite"]["status"] == "insufficient"
    # previous period: 6 at level 2 and 6 at level 3 = (6*66.67+6*100)/12 = 83.3
    prev = rep["previous"]["sources"]["kiosk"]
    assert prev["n"] == 12 and prev["happy_index"] == 83.3 and prev["status"] == "indicative"
    # with shrinkage, 219 responses at 78.23 toward a network mean equal to
    # this site's pooled own figure: unchanged
    rep = scoring_report.satisfaction(db, "mairie", day, day, source="kiosk", shrink=True)
    assert rep["sources"]["kiosk"]["happy_index"] == 78.2
    assert rep["sources"]["kiosk"]["shrunk"]["k"] == scoring.SHRINK_K
    rank = scoring_report.ranking(db, day, day)
    assert [(r["site"], r["rank"]) for r in rank["sites"]] == [
        ("mairie", 1), ("cayenne", None), ("nuku-hiva", None)]
