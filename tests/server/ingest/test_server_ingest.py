"""Ingest on a real SQLite file, without a broker: exactly-once storage,
trust rules, time anchors, kiosk health, migrations."""
import json
import sqlite3

import pytest

from protocol import server_wire as w
from sync_server.ingest import writer as ingest_mod
from sync_server.ingest.writer import Ingest
from sync_server.storage import registry
from sync_server.storage.connection import connect, migrate, open_db
from sync_server.storage.schema import MIGRATIONS
from tests.server_support import T0, make_registry


@pytest.fixture
def setup(tmp_path, monkeypatch):
    db = tmp_path / "b.db"
    keys = make_registry(db, 2)
    calls = []
    # Record what reaches the rollups (their own tests check the sums).
    real = ingest_mod.rollup.apply_votes

    def spy(conn, rows, source="kiosk"):
        calls.append((source, [dict(r) for r in rows]))
        return real(conn, rows, source=source)

    monkeypatch.setattr(ingest_mod.rollup, "apply_votes", spy)
    ing = Ingest(db)
    yield db, sorted(keys), ing, calls
    ing.close()


def batch(dev, votes, boot=1, anchor=None):
    return (w.topic(dev, "votes"), w.encode_batch(dev, boot, votes, anchor), False)


def votes(seqs, flags=0, t0=T0):
    return [(s, t0 + s, s % 4, 4, flags) for s in seqs]


def count(db, sql, *args):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, args).fetchone()[0]
    finally:
        c.close()


def test_a_batch_is_stored_once_and_acked_each_time(setup):
    db, (a, b), ing, calls = setup
    out = ing.process([batch(a, votes(range(1, 11)))])
    assert out.new_votes == 10 and out.duplicates == 0
    assert out.acks == [(w.topic(a, "ack"), w.encode_ack(a, 10))]
    # The same batch again, and an overlapping one, in one transaction.
    out = ing.process([batch(a, votes(range(1, 11))), batch(a, votes(range(5, 16)))])
    assert out.new_votes == 5 and out.duplicates == 16
    assert [p for _, p in out.acks] == [w.encode_ack(a, 10), w.encode_ack(a, 15)]
    assert count(db, "SELECT count(*) FROM votes") == 15
    assert count(db, "SELECT count(DISTINCT seq) FROM votes") == 15
    # Only new votes reach the rollups, each once, with their site and time.
    sent = [r["seq"] for _, rows in calls for r in rows]
    assert sorted(sent) == list(range(1, 16))
    first = calls[0][1][0]
    assert calls[0][0] == "kiosk"
    assert {k: first[k] for k in ("site_id", "utc_ms", "level", "scale", "flags")} == {
        "site_id": "mairie-centre", "utc_ms": T0 + 1, "level": 1, "scale": 4, "flags": 0}
    assert count(db, "SELECT acked_seq FROM kiosk_status WHERE device_id = ?", a) == 15


def test_refused_messages_are_counted_and_never_stop_the_batch(setup):
    db, (a, b), ing, calls = setup
    good = batch(a, votes([1, 2]))
    spoof = (w.topic(a, "votes"), w.encode_batch(b, 1, votes([1])), False)
    unknown = batch("stranger", votes([1]))
    cut = (w.topic(a, "votes"), good[1][:-3], False)
    junk = (w.topic(a, "telemetry"), b"{not json", False)
    wrong_kind = (w.topic(a, "config"), b"{}", False)
    out = ing.process([spoof, unknown, cut, junk, good, wrong_kind])
    assert out.new_votes == 2 and out.rejected == 5
    assert len(out.acks) == 1
    assert count(db, "SELECT count(*) FROM votes WHERE device_id = ?", b) == 0
    assert count(db, "SELECT rejected FROM kiosk_status WHERE device_id = ?", a) == 4
    assert count(db, "SELECT count(*) FROM rejects WHERE device_id = 'stranger'") == 1
    reasons = [r[0] for r in sqlite3.connect(db).execute("SELECT reason FROM rejects")]
    assert any("payload names" in r for r in reasons)
    assert any("TruncatedError" in r for r in reasons)


def test_a_revoked_kiosk_is_refused(setup):
    db, (a, b), ing, calls = setup
    conn = connect(db)
    registry.revoke_kiosk(conn, a)
    out = ing.process([batch(a, votes([1]))])
    assert out.new_votes == 0 and out.rejected == 1 and not out.acks
    assert "revoked" in sqlite3.connect(db).execute(
        "SELECT last_reject FROM kiosk_status").fetchone()[0]


def test_votes_without_clock_wait_for_their_anchor(setup):
    db, (a, b), ing, calls = setup
    unknown = w.F_CLOCK_UNKNOWN
    out = ing.process([batch(a, [(1, 1500, 0, 4, unknown), (2, 9000, 3, 4, unknown | 4)],
                             boot=7)])
    assert out.acks and out.new_votes == 2
    assert count(db, "SELECT count(*) FROM votes WHERE utc_ms IS NULL") == 2
    assert calls == []  # nothing dated yet, nothing counted
    # Another boot's anchor dates nothing of boot 7.
    ing.process([batch(a, [], boot=8, anchor=(100, T0))])
    assert count(db, "SELECT count(*) FROM votes WHERE utc_ms IS NULL") == 2
    # The anchor arrives in telemetry: both are dated, and counted once.
    tel = w.encode_json({"boot": 7, "uptime_s": 70, "journal": 0, "clock": "server",
                         "anchor": [7, 60000, T0]})
    ing.process([(w.topic(a, "telemetry"), tel, False)])
    got = sqlite3.connect(db).execute("SELECT seq, utc_ms FROM votes ORDER BY seq").fetchall()
    assert got == [(1, T0 + 1500 - 60000), (2, T0 + 9000 - 60000)]
    assert [r["seq"] for r in calls[0][1]] == [1, 2]
    # Later votes of that boot are dated at once with the same anchor; a
    # different anchor reported later for the same boot changes nothing.
    ing.process([batch(a, [(3, 70000, 1, 4, unknown)], boot=7, anchor=(70000, T0 + 99))])
    assert count(db, "SELECT utc_ms FROM votes WHERE seq = 3") == T0 + 10000
    assert len(calls) == 2


def test_a_clock_before_2000_never_dates_a_vote(setup):
    db, (a, b), ing, calls = setup
    ing.process([batch(a, [(1, 5000, 0, 4, 0)]),
                 batch(a, [(2, 5000, 0, 4, w.F_CLOCK_UNKNOWN)], boot=2, anchor=(0, 1000))])
    assert count(db, "SELECT count(*) FROM votes WHERE utc_ms IS NULL") == 2
    assert calls == []


def test_status_and_telemetry_make_kiosk_health(setup):
    db, (a, b), ing, calls = setup
    online = w.encode_json({"state": "online", "boot": 12, "fw": "1.0.0"})
    out = ing.process([(w.topic(a, "status"), online, False)])
    assert out.online == [a]
    tel = w.encode_json({"boot": 12, "uptime_s": 3600, "journal": 3, "suppressed": 2,
                         "dropped": 0, "battery_mv": 3900, "battery_pct": 80, "rssi": -61,
                         "fw": "1.0.0", "clock": "ntp", "anchor": None})
    ing.process([(w.topic(a, "telemetry"), tel, False)])
    k = {r["id"]: r for r in registry.list_kiosks(connect(db))}[a]
    assert (k["state"], k["boot"], k["fw"], k["battery_pct"], k["journal"], k["clock"]) == (
        "online", 12, "1.0.0", 80, 3, "ntp")
    seen = k["last_seen_ms"]
    assert seen
    assert json.loads(sqlite3.connect(db).execute("SELECT payload FROM telemetry")
                      .fetchone()[0])["battery_mv"] == 3900
    # The will, replayed as a retained message, says offline but not "seen now".
    will = w.encode_json({"state": "offline"})
    ing.process([(w.topic(a, "status"), will, True)])
    k = {r["id"]: r for r in registry.list_kiosks(connect(db))}[a]
    assert k["state"] == "offline" and k["last_seen_ms"] == seen


def test_a_failing_rollup_refuses_only_its_message(setup, monkeypatch):
    db, (a, b), ing, calls = setup

    def broken(conn, rows, source="kiosk"):
        if any(r["device_id"] == b for r in rows):
            raise RuntimeError("boom")

    monkeypatch.setattr(ingest_mod.rollup, "apply_votes", broken)
    out = ing.process([batch(a, votes([1])), batch(b, votes([1]))])
    assert out.new_votes == 1 and out.rejected == 1
    assert sqlite3.connect(db).execute("SELECT device_id FROM votes").fetchall() == [(a,)]


def test_fresh_and_older_databases_both_open(tmp_path):
    fresh = open_db(tmp_path / "fresh.db")
    last = MIGRATIONS[-1][0]
    assert fresh.execute("PRAGMA user_version").fetchone()[0] == last
    assert fresh.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # A database left at the first version, with data, opens at the latest.
    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    real = list(MIGRATIONS)
    try:
        MIGRATIONS[:] = real[:1]
        migrate(old)
    finally:
        MIGRATIONS[:] = real
    registry.add_site(old, "bib", "Bibliothèque")
    old.close()
    db = open_db(tmp_path / "old.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == last
    assert db.execute("SELECT name FROM sites").fetchone()[0] == "Bibliothèque"


def test_old_telemetry_and_rejects_are_pruned(setup):
    db, (a, b), ing, calls = setup
    tel = w.encode_json({"boot": 1, "uptime_s": 1, "journal": 0, "clock": "ntp"})
    ing.process([(w.topic(a, "telemetry"), tel, False), (w.topic(a, "votes"), b"x", False)])
    c = sqlite3.connect(db)
    c.execute("UPDATE telemetry SET received_ms = received_ms - 40 * 86400000")
    c.commit()
    ing.process([(w.topic(a, "telemetry"), tel, False)])
    assert ing.prune() == 1
    assert c.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 1
    assert c.execute("SELECT count(*) FROM rejects").fetchone()[0] == 1
