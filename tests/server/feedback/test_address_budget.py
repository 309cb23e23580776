"""The per-address budget of METHOD.md ("QR filtering") over an hour of
answers, on a real SQLite file through `store_answer`: a town hall's public
Wi-Fi passes, a script looping from one address is stopped."""
import random
import sqlite3

import pytest

from sync_server.feedback import answers, guard
from sync_server.storage.connection import connect, transaction
from tests.server_support import T0, make_registry

SITE = "mairie-centre"
WIFI = "192.0.2.10"  # the town hall's one public address


@pytest.fixture
def site(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 0)
    conn = connect(db)
    with transaction(conn):
        token = answers.current_token(conn, SITE)
    yield db, conn, token
    conn.close()


def answer(conn, token, limiter, at_ms, form, address=WIFI, level=3):
    return answers.store_answer(conn, SITE, token, 4, {"level": level, "topics": [],
                                                        "comment": "", "lang": "fr"},
                                limiter, address, at_ms, form, at_ms + 4 * 3600_000)


def stored(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM qr_answers").fetchone()[0]


def test_200_citizens_an_hour_through_one_address_all_pass(site):
    db, conn, token = site
    limiter = guard.AddressLimiter(300)
    rng = random.Random(13)
    # 200 arrivals in an hour: a morning queue of 30 within two minutes, the
    # rest at random, some seconds apart.
    times = sorted([T0 + rng.randrange(120_000) for _ in range(30)] +
                   [T0 + rng.randrange(3600_000) for _ in range(170)])
    outcomes = [answer(conn, token, limiter, t, "form-%d" % i, level=rng.randrange(4))
                for i, t in enumerate(times)]
    assert outcomes == [answers.STORED] * 200
    assert stored(db) == 200


def test_a_script_looping_is_stopped_for_the_hour_and_counted(site):
    db, conn, token = site
    limiter = guard.AddressLimiter(300)
    # A citizen answered first from the same address.
    assert answer(conn, token, limiter, T0, "citizen") == answers.STORED
    # Then a script posts every 200 ms for 10 minutes, a fresh form each time.
    outcomes = [answer(conn, token, limiter, T0 + 1000 + 200 * i, "loop-%d" % i)
                for i in range(3000)]
    accepted = outcomes.count(answers.STORED)
    assert accepted <= guard.BURST + 1
    first_refusal = outcomes.index(answers.OVER_BUDGET)
    assert outcomes[first_refusal:] == [answers.OVER_BUDGET] * (3000 - first_refusal)
    assert stored(db) == 1 + accepted  # the citizen's answer and the accepted ones kept
    with sqlite3.connect(db) as c:
        refused = c.execute("SELECT refused FROM qr_address_budget").fetchone()[0]
    assert refused == 3000 - accepted  # every extra post counted
    # Blocked for an hour from its tenth refusal in a row, then a fresh budget.
    blocked_at = T0 + 1000 + 200 * (first_refusal + guard.BLOCK_AFTER - 1)
    assert answer(conn, token, limiter, blocked_at + 3599_000, "late") == answers.OVER_BUDGET
    assert answer(conn, token, limiter, blocked_at + 3600_000 + 1000, "next") == answers.STORED
    # Another address was never affected.
    assert answer(conn, token, limiter, T0 + 2000, "elsewhere", address="192.0.2.99") \
        == answers.STORED


def test_a_citizen_refused_once_or_twice_is_not_blocked(site):
    db, conn, token = site
    limiter = guard.AddressLimiter(300, burst=2)
    assert [answer(conn, token, limiter, T0 + i, "f%d" % i) for i in range(4)] == \
        [answers.STORED] * 2 + [answers.OVER_BUDGET] * 2
    # 12 s later the budget has refilled one answer: the retry passes.
    assert answer(conn, token, limiter, T0 + 12_100, "retry") == answers.STORED


def test_a_form_answers_once(site):
    db, conn, token = site
    limiter = guard.AddressLimiter(300)
    assert answer(conn, token, limiter, T0, "same") == answers.STORED
    assert answer(conn, token, limiter, T0 + 60_000, "same", address="192.0.2.7") \
        == answers.ANSWERED
    assert stored(db) == 1
    # Kept until it would have expired; forgotten after, when it can no
    # longer be posted anyway (the CSRF check refuses it first).
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM qr_used_forms").fetchone()[0] == 1
    assert answer(conn, token, limiter, T0 + 5 * 3600_000, "other") == answers.STORED
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT form FROM qr_used_forms")] == ["other"]
