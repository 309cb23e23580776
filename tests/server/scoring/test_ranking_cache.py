"""The ranking keeps each site's figures between calls (scoring.site_totals)
and its finished rows (scoring.ranked): it must give exactly the figures
computed from the raw votes and QR answers, and the same ranking and
manager overview as with nothing kept, whatever happened in between: new
votes (from this connection or another), QR answers, mystery audits, a
rebuild, a site added, renamed, archived or moved to another organisation,
a rolled-back transaction, figures read by another connection."""
import copy
import datetime
import json
import random

import pytest

from sync_server.mystery import audits
from sync_server.scoring import overview, ranked, report, site_totals
from sync_server.scoring import stats as scoring
from sync_server.storage import organisations, registry, rollup
from sync_server.storage.connection import connect, open_db, transaction
from tests.server.scoring.test_scoring import ms, store_votes

SITES = (("mairie", "Europe/Paris"), ("nuku-hiva", "Pacific/Marquesas"),
         ("cayenne", "America/Cayenne"), ("annexe", "Europe/Paris"))
FROM, TO = datetime.date(2026, 10, 1), datetime.date(2026, 12, 31)


def forget():
    site_totals.forget()
    ranked.forget()


@pytest.fixture
def db(tmp_path):
    forget()
    db = open_db(tmp_path / "borne.db")
    for sid, tz in SITES:
        registry.add_site(db, sid, sid.title(), tz)
    yield db
    forget()


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


RAW = {"kiosk": "SELECT scale, level, flags & 6 != 0, count(*) FROM votes WHERE site_id = ?"
                 " AND utc_ms >= ? AND utc_ms < ? GROUP BY 1, 2, 3",
       "qr": "SELECT scale, level, 0, count(*) FROM qr_answers WHERE site_id = ?"
             " AND created_ms >= ? AND created_ms < ? GROUP BY 1, 2, 3"}


def plain(db, from_day, to_day, site_ids=None, source="kiosk"):
    """The ranking's figures from the raw rows: each site in service, its
    votes (or QR answers) within its own local days, through stats.summary."""
    out = {}
    for sid, name in registry.site_names(db, site_ids):
        start, end = report.day_bounds_ms(db, sid, from_day, to_day)
        counts, filtered = {}, 0
        for scale, level, filt, n in db.conn.execute(RAW[source], (sid, start, end)):
            if filt:
                filtered += n
            else:
                counts[(scale, level)] = n
        out[sid] = dict(scoring.summary(counts, filtered), name=name)
    return out


def check(db, from_day=FROM, to_day=TO, site_ids=None, source="kiosk"):
    """The ranking equals the plain computation, in order; returns it."""
    got = report.ranking(db, from_day, to_day, source, site_ids)["sites"]
    want = plain(db, from_day, to_day, site_ids, source)
    assert {r["site"]: {k: v for k, v in r.items() if k not in ("site", "rank")}
            for r in got} == want
    keys = [(r["happy_index"] is None, -(r["happy_index"] or 0), r["name"]) for r in got]
    assert keys == sorted(keys)
    assert got.json() == json.dumps(got)  # the kept texts of the rows not built again
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


def test_a_returned_ranking_never_changes(db):
    """The rows are kept and shared: a ranking once returned stays as it
    was when later ones see new votes; a row whose figures and rank did not
    change is the same row."""
    rng = random.Random(7)
    store_votes(db, votes(rng, 400, [s for s, _ in SITES], 0))
    first = report.ranking(db, FROM, TO)["sites"]
    before = copy.deepcopy(first)
    # enough unhappy votes at the best site to send it last
    best = first[0]["site"]
    store_votes(db, [dict(device_id="k9", seq=50_000 + i, site_id=best,
                          utc_ms=ms(2026, 11, 15, 12), level=0, scale=4, flags=0)
                     for i in range(600)])
    after = check(db)
    assert first == before and first.json() == json.dumps(before)
    assert after[-1]["site"] == best and after[-1] is not first[0]
    again = check(db)
    assert all(a is b for a, b in zip(again, after))


def test_many_sites_moving_at_once(db):
    """Votes at several sites between two rankings move them up, down, out
    of and into the scored ones: the kept ranking equals a fresh one, and a
    row neither changed nor moved is the row kept."""
    rng = random.Random(10)
    ids = [s for s, _ in SITES]
    for i in range(60):
        registry.add_site(db, "site-%02d" % i, "Site %02d" % rng.randrange(30))  # equal names too
        ids.append("site-%02d" % i)
    store_votes(db, votes(rng, 3000, ids, 0))
    before = check(db)
    seq = 100_000
    for _round in range(25):
        moved = rng.sample(ids, rng.choice([1, 2, 5, 9]))
        rows = []
        for sid in moved:
            level, n = rng.choice([(0, 12), (3, 12), (rng.randrange(4), 1)])
            rows += [dict(device_id="k8", seq=seq + i, site_id=sid, utc_ms=ms(2026, 11, 20, 9),
                          level=level, scale=4, flags=0) for i in range(n)]
            seq += n
        store_votes(db, rows)
        after = kept_equals_fresh(check, db)
        assert after != before
        old = {r["site"]: r for r in before}
        kept = [r for r in after if r is old[r["site"]]]
        assert kept and all(r == old[r["site"]] for r in kept)
        assert not {r["site"] for r in kept} & set(moved)
        before = check(db)  # the fresh ranking kept from now on


def kept_equals_fresh(fn, *args):
    """fn(*args) with the kept figures and rows equals it with nothing kept."""
    kept = fn(*args)
    forget()
    assert kept == fn(*args)
    return kept


def qr_answers(db, site, levels, at_ms):
    """QR answers stored as the form does (answer and rollup, one transaction)."""
    with transaction(db.conn) as c:
        for level in levels:
            c.execute("INSERT INTO qr_answers (site_id, token, level, scale, created_ms)"
                      " VALUES (?, 't', ?, 4, ?)", (site, level, at_ms))
        rollup.apply_votes(c, [dict(site_id=site, utc_ms=at_ms, level=lv, scale=4, flags=0)
                               for lv in levels], source="qr")


def audit(db, tmp_path, site, fails, n):
    """Mystery phone tests of a site imported from a survey file."""
    lines = ["test_id,site,date,time,channel,step,rings,TEL_PRESENTATION,COURTOISIE"]
    for i in range(n):
        lines.append("%s-%d-%d,%s,2026-11-%02d,10:00,téléphone,accès,3,%s,oui"
                     % (site, fails, i, site, 2 + i, "non" if i < fails else "oui"))
    path = tmp_path / ("%s-%d.csv" % (site, fails))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audits.import_file(db, str(path)).errors == []


def test_kept_ranking_and_overview_equal_fresh_ones(db, tmp_path):
    """After each change, the kiosk and QR rankings (of the network and of
    an organisation) and the manager overview equal those computed with
    nothing kept, and the rankings equal the raw rows' figures."""
    rng = random.Random(8)
    org = organisations.add_org(db, "Ville", "commune", 5000)
    organisations.set_site_org(db, "mairie", org)
    organisations.set_site_org(db, "annexe", org)

    def everything():
        mine = organisations.org_site_ids(db, org)
        for source in ("kiosk", "qr"):
            check(db, source=source)
            check(db, site_ids=mine, source=source)
        return [kept_equals_fresh(report.ranking, db, FROM, TO, source, sites)
                for source in ("kiosk", "qr") for sites in (None, mine)] + [
            kept_equals_fresh(overview.overview, db, FROM, TO, sites) for sites in (None, mine)]

    store_votes(db, votes(rng, 500, [s for s, _ in SITES], 0))
    qr_answers(db, "mairie", [3] * 12 + [1] * 4, ms(2026, 11, 3, 10))
    qr_answers(db, "cayenne", [2] * 15, ms(2026, 11, 3, 10))
    steps = [everything()]
    store_votes(db, votes(rng, 60, ["nuku-hiva"], 10_000))           # votes at one site
    steps.append(everything())
    qr_answers(db, "cayenne", [0] * 30, ms(2026, 11, 4, 10))          # QR answers
    steps.append(everything())
    audit(db, tmp_path, "mairie", 3, 6)                               # mystery audits
    steps.append(everything())
    organisations.set_site_org(db, "cayenne", org)                    # moved in
    organisations.set_site_org(db, "mairie", None)                    # and out
    steps.append(everything())
    registry.add_site(db, "bourg", "Bourg", "Europe/Paris")           # a site added
    organisations.set_site_org(db, "bourg", org)
    store_votes(db, votes(rng, 200, ["bourg"], 20_000))
    qr_answers(db, "bourg", [3] * 10, ms(2026, 11, 5, 10))
    steps.append(everything())
    registry.set_site(db, "annexe", name="Zz annexe")                 # renamed
    steps.append(everything())
    registry.archive_site(db, "nuku-hiva")                            # archived
    steps.append(everything())
    for before, after in zip(steps, steps[1:]):
        assert before != after  # every step changed something seen


def test_figures_read_by_another_connection(db, tmp_path):
    """`prepare` reads every site's figures through another connection and
    keeps them for this one: its next ranking reads the rollups of none,
    then of only the site changed since."""
    rng = random.Random(9)
    store_votes(db, votes(rng, 400, [s for s, _ in SITES], 0))
    ids = [s for s, _ in SITES]
    assert site_totals.needs_reading(db, FROM, TO, "kiosk", None, 50)
    assert site_totals.needs_reading(db, FROM, TO, "kiosk", ids, 3)  # 4 sites never read
    assert not site_totals.needs_reading(db, FROM, TO, "kiosk", ids, 4)
    reader = connect(tmp_path / "borne.db")
    try:
        site_totals.prepare(db, reader, FROM, TO, "kiosk")
        # votes at one site after the reading, through yet another connection
        store_votes(open_db(tmp_path / "borne.db"), votes(rng, 30, ["annexe"], 7_000))
    finally:
        reader.close()
    assert not site_totals.needs_reading(db, FROM, TO, "kiosk", None, 50)
    assert not site_totals.needs_reading(db, FROM, TO, "kiosk", ids, 0)
    assert site_totals.needs_reading(db, FROM, TO, "qr", None, 50)
    statements = []
    db.conn.set_trace_callback(statements.append)
    try:
        check(db)
    finally:
        db.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM rollup_daily" in s and "votes" not in s]
    assert len(reads) == 1 and "'annexe'" in reads[0] and "'mairie'" not in reads[0]
