"""Delivery under faults, with a real Mosquitto and `borne serve` processes:
every vote stored exactly once and acked, whatever dies in between. The fleet
mixes protocol versions: a version 1 kiosk, a version 2 one sending
satisfaction votes (campaign 0) and one answering consultation 7; each
answer lands once, on its consultation, never in the votes."""
import os
import random
import signal
import sqlite3
import sys
import threading
import time

import pytest

from protocol import server_wire as w
from tests.realparts import wait_until
from tests.server_support import (
    Kiosk,
    Server,
    consultation_rows,
    make_registry,
    secured_mosquitto,
    stored,
    stored_answers,
)

CAMPAIGNS = (None, 0, 7)  # the fleet's kiosks in turn: v1, v2 satisfaction, v2 consultation 7


def serve(db, broker, launcher=None):
    """`borne serve` on the test's Mosquitto, web on a free port."""
    return Server(db, "--mqtt", "mqtt://127.0.0.1:%d" % broker.port, "--http", "127.0.0.1:0",
                  launcher=launcher).start()


def hold_commit(path):
    """The `borne` command whose server holds its first acking commit on `path`."""
    return [sys.executable, "-m", "tests.server.ingest.hold_commit", path]


@pytest.fixture
def fleet(tmp_path):
    db = tmp_path / "b.db"
    keys = make_registry(db, 3)
    consultation_rows(db, 7, ["mairie-centre"], kiosk_answers=4)
    broker = secured_mosquitto(db)
    kiosks = []
    yield db, keys, broker, kiosks
    for k in kiosks:
        k.close()
    broker.stop()


def connect_all(broker, keys, kiosks, **kw):
    for i, (dev, secret) in enumerate(sorted(keys.items())):
        kiosks.append(Kiosk(broker.port, dev, secret, campaign=CAMPAIGNS[i % 3], **kw))
    return kiosks


def sync_all(kiosks, timeout=60):
    """Sync every kiosk in parallel; return True if all got all their acks."""
    results = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k.dev, k.sync(timeout)))
               for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    return all(results.get(k.dev) for k in kiosks)


def assert_exactly_once(db, kiosks):
    rows = stored(db)
    assert len(rows) == len(set(rows))
    want = {(k.dev, s) for k in kiosks if not k.campaign for s in range(1, k.next_seq)}
    assert set(rows) == want
    answers = [a[:3] for a in stored_answers(db)]
    assert len(answers) == len(set(answers))
    assert set(answers) == {(k.dev, s, k.campaign) for k in kiosks if k.campaign
                            for s in range(1, k.next_seq)}


def test_kill_9_in_the_middle_of_a_batch(fleet, tmp_path):
    db, keys, broker, kiosks = fleet
    hold = str(tmp_path / "holding")
    srv = serve(db, broker, launcher=hold_commit(hold))
    try:
        connect_all(broker, keys, kiosks, resend_s=0.5)
        for k in kiosks:
            k.press(300)
        syncing = threading.Thread(target=sync_all, args=(kiosks, 40))
        syncing.start()
        # The server holds inside its transaction, votes inserted, not committed.
        assert wait_until(lambda: os.path.exists(hold), 20)
        srv.kill()
        os.unlink(hold)
        assert not any(k.acks for k in kiosks)  # nothing was acked before the commit
        srv = serve(db, broker)
        syncing.join(45)
        assert all(not k.pending for k in kiosks), "a kiosk did not get all its acks"
        assert_exactly_once(db, kiosks)
        assert srv.terminate() == 0
    finally:
        srv.stop()


def test_sigterm_commits_and_acks_the_batch_in_hand(fleet, tmp_path):
    db, keys, broker, kiosks = fleet
    hold = str(tmp_path / "holding")
    srv = serve(db, broker, launcher=hold_commit(hold))
    try:
        k = connect_all(broker, {d: keys[d] for d in sorted(keys)[:1]}, kiosks,
                        resend_s=30)[0]
        k.press(10)
        syncing = threading.Thread(target=k.sync, args=(20,))
        syncing.start()
        assert wait_until(lambda: os.path.exists(hold), 20)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # let the signal land while the batch is held
        os.unlink(hold)
        assert srv.proc.wait(20) == 0
        syncing.join(25)
        # One send only (resend after 30 s): the ack came from the stopping server.
        assert k.acks == [10] and not k.pending
        assert_exactly_once(db, kiosks)
        assert "10 votes stored" in srv.rest_of_stdout()
    finally:
        srv.stop()


def test_mosquitto_restarted_while_kiosks_publish(fleet):
    db, keys, broker, kiosks = fleet
    srv = serve(db, broker)
    try:
        connect_all(broker, keys, kiosks, resend_s=0.5, batch=20)
        for k in kiosks:
            k.press(400)
        syncing = threading.Thread(target=sync_all, args=(kiosks, 50))
        syncing.start()
        assert wait_until(lambda: len(stored(db)) >= 100, 20)
        broker.restart()  # kiosks keep publishing into the outage
        for k in kiosks:
            k.press(100)
        assert wait_until(lambda: len(stored(db)) >= 700, 30)
        broker.stop(kill=True)
        broker.start()
        syncing.join(55)
        assert sync_all(kiosks, 30)
        assert_exactly_once(db, kiosks)
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_two_ingest_workers_share_the_votes(fleet):
    db, keys, broker, kiosks = fleet
    url = "mqtt://borne-ingest-%d@127.0.0.1:" + str(broker.port)
    workers = [Server(db, "--mqtt", url % i, "--ingest-only",
                      log_path="%s.w%d.log" % (db, i)).start() for i in (1, 2)]
    try:
        connect_all(broker, keys, kiosks, resend_s=1.0, batch=10)
        for k in kiosks:
            k.press(300)
        assert sync_all(kiosks, 60)
        assert_exactly_once(db, kiosks)
        counts = []
        for wk in workers:
            assert wk.terminate() == 0
            out = wk.rest_of_stdout()
            counts.append(int(out.split("after ")[1].split(" votes")[0]))
        assert sum(counts) == 900  # each vote inserted by exactly one worker
        assert all(c > 0 for c in counts), counts  # and both took a share
    finally:
        for wk in workers:
            wk.stop()


def test_ten_thousand_bad_payloads_are_each_refused(fleet):
    db, keys, broker, kiosks = fleet
    srv = serve(db, broker)
    try:
        k = connect_all(broker, {d: keys[d] for d in sorted(keys)[:1]}, kiosks)[0]
        assert k.connected.wait(10)
        rnd = random.Random(4)
        good = w.encode_batch(k.dev, 1, [(s, 1795000000000 + s, 1, 4, 0) for s in range(1, 51)])
        infos = []
        for i in range(10_000):
            kind = i % 3
            if kind == 0:
                data = rnd.randbytes(rnd.randrange(0, 700))
            elif kind == 1:
                data = good[:rnd.randrange(0, len(good))]
            else:
                data = bytearray(good)
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
            infos.append(k.publish_raw("votes", bytes(data)))
        for info in infos:
            info.wait_for_publish(30)
        k.press(5)
        assert k.sync(30), "ingest stopped after bad payloads"
        conn = sqlite3.connect(db)
        assert wait_until(lambda: conn.execute(
            "SELECT rejected FROM kiosk_status WHERE device_id = ?", (k.dev,)).fetchone()[0]
            == 10_000, 20)
        assert conn.execute("SELECT count(*) FROM rejects").fetchone()[0] == 10_000
        assert_exactly_once(db, kiosks)
        assert srv.proc.poll() is None
    finally:
        srv.stop()
