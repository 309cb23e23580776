"""The ranking keeps each site's figures between calls (scoring.site_totals):
it must give exactly the figures computed from the raw votes, whatever
happened in between: new votes (from this connection or another), a rebuild,
a site archived or moved to another organisation, a rolled-back
transaction."""
import datetime
import random

import pytest

from sync_server.scoring import report, site_totals
from sync_server.scoring import stats as scoring
from sync_server.storage import organisations, registry, rollup
from sync_server.storage.connection import open_db
from tests.server.scoring.test_scoring import ms, store_votes

SITES = (("mairie", "Europe/Paris"), ("nuku-hiva", "Pacific/Marquesas"),
         ("cayenne", "America/Cayenne"), ("annexe", "Europe/Paris"))
FROM, TO = datetime.date(2026, 10, 1), datetime.date(2026, 12, 31)


@pytest.fixture
def db(tmp_path):
    site_totals.forget()
    db = open_db(tmp_path / "borne.db")
    for sid, tz in SITES:
        registry.add_site(db, sid, sid.title(), tz)
    yield db
    site_totals.forget()


def votes(rng, n, sites, seq):
    rows = []
    for i in range(n):
        scale = rng.choice([2, 3, 4, 4, 4])
        rows.append(dict(device_id="k%d" % rng.randrange(3), seq=seq + i,
                         site_id=rng.choice(sites),
                         # the period's edges in each zone: 30 Sep to 2 Oct, 30 Dec to 2 Jan
                         utc_ms=rng.choice([ms(2026, 9, 30), ms(2026, 12, 30)])
                         + rng.randrange(3 * 86_400_000),
                         level=rng.randrange(scale), scale=scale,
                         flags=rng.choice([0, 0, 0, 1, 2, 4, 6])))
    return rows


def plain(db, from_day, to_day, site_ids=None):
    """The ranking's figures from the raw votes: each site in service, its
    votes within its own local days, through stats.summary."""
    out = {}
    for sid, name in registry.site_names(db, site_ids):
        start, end = report.day_bounds_ms(db, sid, from_day, to_day)
        counts, filtered = {}, 0
        for scale, level, filt, n in db.conn.execute(
                "SELECT scale, level, flags & 6 != 0, count(*) FROM votes WHERE site_id = ?"
                " AND utc_ms >= ? AND utc_ms < ? GROUP BY 1, 2, 3", (sid, start, end)):
            if filt:
                filtered += n
            else:
                counts[(scale, level)] = n
        out[sid] = dict(scoring.summary(counts, filtered), name=name)
    return out


def check(db, from_day=FROM, to_day=TO, site_ids=None):
    """The ranking equals the plain computation, in order; returns it."""
    got = report.ranking(db, from_day, to_day, "kiosk", site_ids)["sites"]
    want = plain(db, from_day, to_day, site_ids)
    assert {r["site"]: {k: v for k, v in r.items() if k not in ("site", "rank")}
            for r in got} == want
    keys = [(r["happy_index"] is None, -(r["happy_index"] or 0), r["name"]) for r in got]
    assert keys == sorted(keys)
    return got


def test_same_figures_before_and_after_new_votes(db, tmp_path):
    rng = random.Random(3)
    ids = [s for s, _ in SITES]
    store_votes(db, votes(rng, 600, ids, 0))
    before = check(db)
    assert check(db) == before  # kept figures, same answer
    store_votes(db, votes(rng, 80, ["mairie"], 10_000))
    after = check(db)
    assert after != before
    # votes stored through another connection (ingest has its own)
    other = open_db(tmp_path / "borne.db")
    store_votes(other, votes(rng, 300, ["cayenne", "annexe"], 20_000))
    check(db)
    # a shorter period and a manager's few sites, kept apart from the year's
    check(db, FROM, datetime.date(2026, 10, 1))
    check(db, site_ids=["annexe", "nuku-hiva"])
    # a rebuild from the raw rows after votes were taken out by hand
    db.conn.execute("DELETE FROM votes WHERE site_id = 'nuku-hiva' AND level = 0")
    rollup.rebuild(db, ["nuku-hiva"])
    check(db)
    check(db, site_ids=["annexe", "nuku-hiva"])


def test_unchanged_sites_are_not_read_again(db):
    rng = random.Random(4)
    store_votes(db, votes(rng, 400, [s for s, _ in SITES], 0))
    check(db)
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        check(db)
        assert not [s for s in statements if "rollup_daily" in s]
        store_votes(db, votes(rng, 20, ["cayenne"], 5_000))
        statements.clear()
        check(db)
    finally:
        db.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM rollup_daily" in s and "votes" not in s]
    assert len(reads) == 1 and "'cayenne'" in reads[0] and "'mairie'" not in reads[0]


def test_archived_and_moved_sites(db):
    rng = random.Random(5)
    store_votes(db, votes(rng, 500, [s for s, _ in SITES], 0))
    org = organisations.add_org(db, "Ville", "commune", 5000)
    organisations.set_site_org(db, "mairie", org)
    organisations.set_site_org(db, "annexe", org)
    assert {r["site"] for r in check(db, site_ids=organisations.org_site_ids(db, org))} == {
        "mairie", "annexe"}
    registry.archive_site(db, "annexe")
    assert "annexe" not in {r["site"] for r in check(db)}
    assert {r["site"] for r in check(db, site_ids=organisations.org_site_ids(db, org))} == {
        "mairie"}
    organisations.set_site_org(db, "cayenne", org)
    organisations.set_site_org(db, "mairie", None)
    assert {r["site"] for r in check(db, site_ids=organisations.org_site_ids(db, org))} == {
        "cayenne"}
    registry.archive_site(db, "annexe", archived=False)
    registry.set_site(db, "annexe", name="Aaa annexe")
    assert "annexe" in {r["site"] for r in check(db)}


def test_nothing_kept_from_a_rolled_back_transaction(db):
    rng = random.Random(6)
    store_votes(db, votes(rng, 300, [s for s, _ in SITES], 0))
    check(db)
    c = db.conn
    c.execute("BEGIN IMMEDIATE")
    rows = votes(rng, 200, ["mairie"], 9_000)
    c.executemany(
        "INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
        " flags, received_ms) VALUES (:device_id, :seq, :site_id, 1, :utc_ms, :utc_ms,"
        " :level, :scale, :flags, 0)", rows)
    rollup.apply_votes(c, rows)
    check(db)  # the transaction's own votes are seen
    c.execute("ROLLBACK")
    # the counter went back with the rollback: the next change reuses it
    store_votes(db, votes(rng, 5, ["mairie"], 30_000))
    check(db)


def test_the_returned_rows_are_the_callers(db):
    store_votes(db, votes(random.Random(7), 200, [s for s, _ in SITES], 0))
    first = report.ranking(db, FROM, TO)["sites"]
    for r in first:
        r["n"] = -1
        if r["positive_interval"]:
            r["positive_interval"][0] = 9
    check(db)
