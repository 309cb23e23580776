"""Votes the server cannot date (PROTOCOL.md, "Votes the server cannot
date"): stored and acked so the kiosk moves on, never counted, visible in
the kiosk's health. Through the real ingest path on a real SQLite file."""
import sqlite3

import pytest

from protocol import server_wire as w
from sync_server.ingest.writer import MAX_UTC_MS, Ingest
from sync_server.storage import page_queries, registry, votes
from sync_server.storage.connection import connect
from tests.server_support import T0, make_registry

U48_MAX = (1 << 48) - 1  # past year 9999: any u48 is a legal time on the wire


@pytest.fixture
def kiosk(tmp_path):
    db = tmp_path / "b.db"
    dev = sorted(make_registry(db, 1))[0]
    ing = Ingest(db)
    yield db, dev, ing
    ing.close()


def batch(dev, votes, boot=1, anchor=None):
    return (w.topic(dev, "votes"), w.encode_batch(dev, boot, votes, anchor), False)


def counted(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]


def undatable(db, dev):
    return registry.list_kiosks(connect(db))[0]["undatable"]


def test_a_vote_past_year_9999_is_acked_with_the_valid_ones_behind_it(kiosk):
    db, dev, ing = kiosk
    # What the kiosk resends until acked: the bad batch first, then the
    # valid ones queued behind it, each in its own transaction as they come.
    acks = []
    for b in (batch(dev, [(1, U48_MAX, 0, 4, 0), (2, T0, 3, 4, 0)]),
              batch(dev, [(3, MAX_UTC_MS, 1, 4, 0)]),
              batch(dev, [(4, T0 + 1, 2, 4, 0), (5, T0 + 2, 2, 4, 0)])):
        out = ing.process([b])
        assert out.rejected == 0
        acks += out.acks
    assert acks == [(w.topic(dev, "ack"), w.encode_ack(dev, n)) for n in (2, 3, 5)]
    with sqlite3.connect(db) as c:
        stored = c.execute("SELECT seq, utc_ms, flags FROM votes ORDER BY seq").fetchall()
    flag = votes.F_UNDATABLE
    assert stored == [(1, None, flag), (2, T0, 0), (3, None, flag), (4, T0 + 1, 0),
                      (5, T0 + 2, 0)]
    assert page_queries.undated_votes(connect(db), "mairie-centre") == 0  # none pending
    assert counted(db) == 3  # the valid ones only
    assert undatable(db, dev) == 2  # the others, where a manager sees them
    # Resending a batch (a lost ack) neither counts its votes twice nor
    # its undatable ones.
    out = ing.process([batch(dev, [(1, U48_MAX, 0, 4, 0), (2, T0, 3, 4, 0)])])
    assert out.acks == [(w.topic(dev, "ack"), w.encode_ack(dev, 2))] and out.duplicates == 2
    assert counted(db) == 3 and undatable(db, dev) == 2


def test_an_anchor_that_puts_votes_past_2100_dates_none_of_them(kiosk):
    db, dev, ing = kiosk
    unknown = w.F_CLOCK_UNKNOWN
    # An absurd anchor is ignored: the votes wait for a usable one.
    out = ing.process([batch(dev, [(1, 1000, 0, 4, unknown)], boot=3,
                             anchor=(0, U48_MAX - 10))])
    assert out.acks and counted(db) == 0 and undatable(db, dev) == 0
    # A usable anchor dates vote 1; vote 2, 2^47 ms (4,460 years) after the
    # boot began, cannot be placed: acked, stored, counted undatable.
    out = ing.process([batch(dev, [(2, 1 << 47, 1, 4, unknown)], boot=3, anchor=(0, T0))])
    assert out.acks == [(w.topic(dev, "ack"), w.encode_ack(dev, 2))]
    with sqlite3.connect(db) as c:
        stored = c.execute("SELECT seq, utc_ms FROM votes ORDER BY seq").fetchall()
    assert stored == [(1, T0 + 1000), (2, None)]
    assert counted(db) == 1 and undatable(db, dev) == 1


def test_pending_votes_the_anchor_cannot_place_are_counted_undatable(kiosk):
    db, dev, ing = kiosk
    unknown = w.F_CLOCK_UNKNOWN
    ing.process([batch(dev, [(1, 1000, 0, 4, unknown), (2, 1 << 47, 0, 4, unknown)], boot=4)])
    assert undatable(db, dev) == 0  # still waiting for the anchor
    tel = w.encode_json({"boot": 4, "uptime_s": 70, "journal": 0, "clock": "server",
                         "anchor": [4, 0, T0]})
    assert page_queries.undated_votes(connect(db), "mairie-centre") == 2
    ing.process([(w.topic(dev, "telemetry"), tel, False)])
    assert counted(db) == 1 and undatable(db, dev) == 1
    assert page_queries.undated_votes(connect(db), "mairie-centre") == 0
