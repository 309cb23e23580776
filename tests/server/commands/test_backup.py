"""`borne backup` while the server ingests, `borne restore`, and a database
made by the previous release opened by this one."""
import os
import shutil
import sqlite3
import stat
import subprocess
import threading

from sync_server.storage.connection import connect
from sync_server.storage.schema import MIGRATIONS
from tests.server_support import (
    BORNE,
    Kiosk,
    Server,
    borne,
    make_registry,
    secured_mosquitto,
    stored,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "storage", "data")


def votes_of(path):
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute("SELECT device_id, seq FROM votes"))
    finally:
        conn.close()


def test_backups_taken_while_the_server_ingests_are_whole_and_restore(tmp_path):
    db = tmp_path / "b.db"
    keys = make_registry(db, 3)
    broker = secured_mosquitto(db)
    server = Server(db, "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--http",
                    "127.0.0.1:0").start()
    kiosks = [Kiosk(broker.port, dev, secret, batch=20, resend_s=1.0)
              for dev, secret in sorted(keys.items())]
    copies = []
    stop = threading.Event()
    results = {}

    def vote_on(k):  # rounds of votes, each synced, until the copies are taken
        ok = True
        while not stop.is_set():
            k.press(20)
            ok = k.sync(60) and ok
        results[k.dev] = ok
    try:
        threads = [threading.Thread(target=vote_on, args=(k,)) for k in kiosks]
        for t in threads:
            t.start()
        # Copies taken while batches are being committed.
        while len(copies) < 6:
            out = str(tmp_path / ("copy%02d.db" % len(copies)))
            borne("backup", out, "--db", str(db))
            copies.append(out)
        stop.set()
        for t in threads:
            t.join()
        assert all(results.values()), results
        total = sum(k.next_seq - 1 for k in kiosks)
        final = str(tmp_path / "final.db")
        made = borne("backup", final, "--db", str(db))
        assert "%d votes, integrity ok" % total in made.stdout
    finally:
        for k in kiosks:
            k.close()
        server.stop()
        broker.stop()
    previous = set()
    for path in copies:  # each copy a consistent state: whole batches, growing
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert not os.path.exists(path + "-wal")
        got = votes_of(path)
        assert previous <= got
        for dev in keys:
            seqs = sorted(s for d, s in got if d == dev)
            assert seqs == list(range(1, len(seqs) + 1))  # no hole: batches land whole, in order
        previous = got
    assert votes_of(final) == set(stored(db))
    assert len(votes_of(final)) == total
    assert len(votes_of(copies[0])) < len(votes_of(copies[-1])) <= total  # taken while ingesting
    # Restore into a new database, then over an existing one (kept aside).
    restored = tmp_path / "restored.db"
    borne("restore", final, "--db", str(restored))
    assert votes_of(str(restored)) == votes_of(final)
    assert stat.S_IMODE(os.stat(restored).st_mode) == 0o600
    refused = borne("restore", copies[0], "--db", str(restored), check=False)
    assert refused.returncode == 2 and "--force" in refused.stderr
    again = borne("restore", copies[0], "--db", str(restored), "--force")
    assert votes_of(str(restored)) == votes_of(copies[0])
    kept = again.stdout.split("kept as ")[1].strip()
    assert votes_of(kept) == votes_of(final)


def test_restore_refuses_while_a_server_holds_the_database(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 1)
    broker = secured_mosquitto(db)
    server = Server(db, "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--http",
                    "127.0.0.1:0").start()
    try:
        borne("backup", str(tmp_path / "copy.db"), "--db", str(db))
        out = borne("restore", str(tmp_path / "copy.db"), "--db", str(db), "--force",
                    check=False)
        assert out.returncode == 2
        assert "served by process %d" % server.proc.pid in out.stderr
    finally:
        server.stop()
        broker.stop()


def test_backup_and_restore_refuse_what_is_not_a_sound_database(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 1)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    for argv, words in ((("restore", str(junk), "--db", str(tmp_path / "new.db")), "junk.db"),
                        (("restore", str(tmp_path / "none.db")), "no backup at"),
                        (("backup", str(db), "--db", str(db)), "exists")):
        out = subprocess.run([BORNE, *argv], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "new.db").exists() or not votes_of(str(tmp_path / "new.db"))


def test_a_database_of_the_previous_release_opens_migrated_with_its_data(tmp_path):
    # Made by release 0.1.0 at schema 3 (how: data/README.md).
    db = tmp_path / "old.db"
    shutil.copyfile(os.path.join(DATA, "borne-0.1.0-schema3.db"), db)
    before = sqlite3.connect(db)
    assert before.execute("PRAGMA user_version").fetchone()[0] == 3
    rows_before = before.execute("SELECT * FROM votes ORDER BY device_id, seq").fetchall()
    rollups_before = before.execute("SELECT * FROM rollup_hourly ORDER BY 1, 2, 3").fetchall()
    assert rollups_before
    before.close()
    conn = connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0]
    assert conn.execute("SELECT * FROM votes ORDER BY device_id, seq").fetchall() == rows_before
    assert len(rows_before) == 200
    assert conn.execute("SELECT * FROM rollup_hourly ORDER BY 1, 2, 3").fetchall() \
        == rollups_before
    conn.close()
    # The commands of this release work on it: sites, kiosks, managers, backups.
    listed = borne("site", "list", "--db", str(db))
    assert "mairie-centre" in listed.stdout and "mediatheque" in listed.stdout
    assert "archived" not in listed.stdout
    assert "k0001" in borne("kiosk", "list", "--db", str(db)).stdout
    assert "qualite" in borne("manager", "list", "--db", str(db)).stdout
    made = borne("backup", str(tmp_path / "copy.db"), "--db", str(db))
    assert "200 votes" in made.stdout


def test_restoring_an_older_copy_migrates_it_and_a_newer_one_is_refused(tmp_path):
    old = os.path.join(DATA, "borne-0.1.0-schema3.db")
    restored = tmp_path / "r.db"
    out = borne("restore", old, "--db", str(restored))
    assert "schema 3, 200 votes" in out.stdout
    conn = sqlite3.connect(restored)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0]
    conn.close()
    newer = tmp_path / "newer.db"
    shutil.copyfile(restored, newer)
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = %d" % (MIGRATIONS[-1][0] + 1))
    conn.close()
    refused = borne("restore", str(newer), "--db", str(tmp_path / "x.db"), check=False)
    assert refused.returncode == 2 and "made by a newer version" in refused.stderr
    assert not (tmp_path / "x.db").exists()
