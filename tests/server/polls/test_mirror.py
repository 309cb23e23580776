"""The mirror recomputed by hand on a real database: agents' answers of
closed polls (a group of 4 left out), kiosk votes, QR answers by topic and
mystery checks by journey step, each share with its Wilson interval, and a
gap flagged significant only when the intervals are apart."""
import datetime
import time

import pytest

from sync_server.mystery import criteria as mystery_criteria
from sync_server.polls import lifecycle, mirror, questions
from sync_server.storage import mystery as mystery_store
from sync_server.storage import rollup
from sync_server.storage.connection import connect
from sync_server.storage.registry import add_site

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
DAY = datetime.timedelta(days=1)
FROM, TO = TODAY - 10 * DAY, TODAY + DAY


def poll(conn, site_answers):
    """A closed poll on welcome and waiting; site_answers: {site: [(welcome, waiting)]}."""
    poll_id = lifecycle.create(conn, "B", "B", [questions.criterion_question("welcome"),
                                                questions.criterion_question("waiting")],
                               (TODAY - DAY).isoformat(), (TODAY + DAY).isoformat(),
                               list(site_answers))
    lifecycle.open_poll(conn, poll_id)
    p = lifecycle.get(conn, poll_id)
    for site, answers in site_answers.items():
        for i, (welcome, waiting) in enumerate(answers):
            assert lifecycle.store(conn, p, site, "%d-%s-%d" % (poll_id, site, i),
                                   {0: welcome, 1: waiting}, {}, "fr") == "stored"
    lifecycle.close_poll(conn, poll_id)
    return poll_id


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    c = connect(tmp_path_factory.mktemp("mirror") / "borne.db")
    add_site(c, "mairie", "Mairie")
    add_site(c, "annexe", "Annexe")
    now = int(time.time() * 1000)
    # 6 agents: welcome 3,3,2,1,0,3 (4 positive); waiting all 3 (6 positive)
    poll(c, {"mairie": [(3, 3), (3, 3), (2, 3), (1, 3), (0, 3), (3, 3)]})
    # 4 agents only: never added, however the period is drawn
    poll(c, {"mairie": [(0, 0)] * 4})
    # 20 kiosk votes, 18 positive (levels 2 and 3 of 4); 5 filtered ones do not count
    votes = [dict(site_id="mairie", utc_ms=now, level=3 if i < 18 else 0, scale=4, flags=0)
             for i in range(20)]
    votes += [dict(site_id="mairie", utc_ms=now, level=0, scale=4, flags=2)] * 5
    c.execute("BEGIN")
    rollup.apply_votes(c, votes, source="kiosk")
    # QR: 10 answers about waiting, all unhappy; 4 about courtesy (welcome), 3 positive
    for level, topics in [(0, "attente")] * 10 + [(3, "courtoisie")] * 3 + [(1, "accueil")]:
        c.execute("INSERT INTO qr_answers (site_id, token, level, scale, topics, created_ms)"
                  " VALUES ('mairie', 't', ?, 4, ?, ?)", (level, topics, now))
    crit, errors = mystery_criteria.load()
    assert errors == []
    mystery_store.save_criteria(c, crit)
    local = "%s 10:00" % TODAY
    for test_id, results in (("T1", {"ACCUEIL_SALUTATION": "pass", "ACCUEIL_ATTENTE": "fail",
                                     "ORIENTATION_BON_INTERLOCUTEUR": "pass"}),
                             ("T2", {"TEL_PRESENTATION": "fail", "COURTOISIE": "pass",
                                     "TEL_DECROCHE_5_SONNERIES": "na"})):
        c.execute("INSERT INTO mystery_tests (id, site_id, at_ms, local_time, channel, step,"
                  " source, imported_ms) VALUES (?, 'mairie', ?, ?, 'desk', 'access', 'f', 0)",
                  (test_id, now, local))
        c.executemany("INSERT INTO mystery_results (test_id, criterion, result) VALUES (?,?,?)",
                      [(test_id, k, v) for k, v in results.items()])
    c.execute("COMMIT")
    return c


def part(m, code):
    return next(c for c in m["criteria"] if c["code"] == code)


def test_welcome_by_hand(conn):
    m = mirror.mirror(conn, "mairie", FROM, TO)
    assert len(m["polls"]) == 2  # both closed in the period; the group of 4 adds nothing
    w = part(m, "welcome")
    # agents 4 of 6; Wilson: centre (4/6 + 1.92/6) / (1 + 3.84/6) = 0.6016, half 0.3016
    assert (w["agents"]["x"], w["agents"]["n"], w["agents"]["share"]) == (4, 6, 0.6667)
    assert w["agents"]["interval"] == [0.3, 0.9032]
    # happy index: (100 + 100 + 66.7 + 33.3 + 0 + 100) / 6 = 66.7
    assert w["agents"]["happy_index"] == 66.7
    # kiosk: 18 of 20, the 5 filtered votes left out
    assert (w["kiosk"]["x"], w["kiosk"]["n"], w["kiosk"]["interval"]) == (18, 20,
                                                                          [0.699, 0.9721])
    # QR on courtesy or welcome: 3 of 4
    assert (w["qr"]["x"], w["qr"]["n"]) == (3, 4)
    # mystery, orientation step: greeting pass, right person pass, phone intro fail: 2 of 3
    # (COURTOISIE is a treatment check, the waiting ones go to waiting time)
    assert (w["mystery"]["x"], w["mystery"]["n"]) == (2, 3)
    assert w["gaps"]["kiosk"] == {"difference": -0.2333, "significant": False}


def test_waiting_gap_is_significant(conn):
    m = mirror.mirror(conn, "mairie", FROM, TO)
    wait = part(m, "waiting")
    assert (wait["agents"]["x"], wait["agents"]["n"]) == (6, 6)
    # Wilson 6/6: low = 6 / (6 + 3.84) = 0.6097; QR 0/10: high = 3.84 / 13.84 = 0.2775
    assert wait["agents"]["interval"] == [0.6097, 1.0]
    assert wait["qr"]["interval"] == [0.0, 0.2775]
    assert wait["gaps"]["qr"] == {"difference": 1.0, "significant": True}
    # mystery: the waiting measures only (desk wait fail; rings not applicable)
    assert (wait["mystery"]["x"], wait["mystery"]["n"]) == (0, 1)


def test_no_agents_figure_outside_the_polls_or_below_5(conn):
    m = mirror.mirror(conn, "mairie", TODAY - 40 * DAY, TODAY - 20 * DAY)
    assert m["polls"] == [] and part(m, "welcome")["agents"]["n"] == 0
    assert part(m, "welcome")["gaps"]["kiosk"] is None
    annexe = mirror.mirror(conn, "annexe", FROM, TO)
    assert all(c["agents"]["n"] == 0 for c in annexe["criteria"])
