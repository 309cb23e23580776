"""End to end: the real firmware under `micropython -X heapsize=96k`, a real
Mosquitto with the generated ACL, and the real `borne serve` with SQLite.
Power cuts, broker outages, lost acks and repeated batches: every confirmed
vote is stored exactly once."""
import signal
import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest

from protocol import server_wire as w
from sync_server.broker import dynsec
from sync_server.broker.rules import INGEST_PREFIX
from sync_server.storage.connection import connect
from tests import server_support as ss
from tests.firmware_support import POWER_CUT, Firmware

pytestmark = pytest.mark.timeout(150)


class Rig:
    def __init__(self, micropython, tmp_path, kiosks=1, heap="100k"):
        self.dir = tmp_path
        self.db = str(tmp_path / "borne.db")
        self.keys = ss.make_registry(self.db, kiosks=kiosks)
        self.dev, self.secret = sorted(self.keys.items())[0]
        conn = sqlite3.connect(self.db)
        with conn:  # many presses in a row, quick resend of an unacked batch
            conn.execute("UPDATE sites SET lockout_s = 0, sync_s = 1")
        conn.close()
        self.broker = ss.secured_mosquitto(self.db)
        self.server = ss.Server(self.db, "--http", "127.0.0.1:0", "--mqtt",
                                "mqtt://127.0.0.1:%d" % self.broker.port).start()
        self.fw = Firmware(micropython, tmp_path / "flash.img", heap=heap, env=dict(
            BORNE_DEVICE=self.dev, BORNE_BROKER=self.broker.url, BORNE_PASS=self.secret,
            BORNE_KEEPALIVE="4"))

    def stored(self):
        conn = sqlite3.connect(self.db)
        try:
            return [r[0] for r in conn.execute(
                "SELECT seq FROM votes WHERE device_id = ? ORDER BY seq", (self.dev,))]
        finally:
            conn.close()

    def synced(self, timeout=60):
        return self.fw.wait_status(lambda s: s["mqtt"] == "up" and s["journal"] == 0,
                                   timeout=timeout)

    def close(self):
        self.fw.stop()
        self.server.stop()
        self.broker.stop()


@pytest.fixture
def rig(micropython, tmp_path):
    r = Rig(micropython, tmp_path)
    yield r
    r.close()


def configured(fw, timeout=30, campaign=0):
    """Wait for the server's config (lockout 0, that campaign); False if the
    power was cut."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = fw.ask("show config")
        if c is None:
            return False
        assert isinstance(c, dict), "show config answered %r; logs: %s" % (c, fw.logs[-5:])
        if c["server_config"] and c["lockout_s"] == 0 and c["campaign"] == campaign:
            return True
        time.sleep(0.1)
    raise TimeoutError("no config from the server; logs: %s" % fw.logs[-5:])


def press_many(fw, n, start=0, buttons=4):
    seqs = []
    for i in range(n):
        r = fw.ask("press %d" % ((start + i) % buttons))
        if r is None:
            break
        assert "seq" in r, r
        seqs.append(r["seq"])
    return seqs


def test_power_cut_every_kth_write(rig):
    """200 presses; the power is cut at the k-th flash write of every run.
    Consultation 7 (3 answers) runs at the site until 100 presses are
    thanked, then closes: each press lands once, as an answer to 7 or as a
    satisfaction vote, as the config in force when it was pressed said."""
    ss.consultation_rows(rig.db, 7, ["mairie-centre"], kiosk_answers=3)
    k = 41
    confirmed = []
    answered = []  # thanked while consultation 7 ran
    cuts = 0
    while len(confirmed) < 200:
        rig.fw.start(BORNE_POWERCUT=("%d:torn" % k) if cuts % 2 else k)  # half: torn write
        for campaign, upto, buttons in ((7, 100, 3), (0, 200, 4)):
            if len(confirmed) >= upto:
                continue
            if not configured(rig.fw, campaign=campaign):
                break  # the power was cut
            got = press_many(rig.fw, upto - len(confirmed), len(confirmed), buttons)
            confirmed += got
            if campaign:
                answered += got
            if len(confirmed) < upto:
                break  # the power was cut
            if campaign:
                close_consultation(rig.db, campaign)  # the config changes under the run
        if len(confirmed) < 200:
            assert rig.fw.wait_exit() == POWER_CUT
            cuts += 1
        else:
            rig.fw.kill()  # a plain power cut once the last vote is thanked
        k = 41 + cuts % 7  # vary where the cut falls
    assert cuts >= 5
    assert confirmed == sorted(set(confirmed))  # strictly increasing across boots
    rig.fw.start()
    rig.synced()
    stored = rig.stored()
    answers = ss.stored_answers(rig.db, rig.dev)
    assert len(stored) == len(set(stored))
    assert {a[2] for a in answers} == {7}
    assert not set(stored) & {a[1] for a in answers}  # a seq is a vote or an answer
    assert set(answered) <= {a[1] for a in answers}
    assert set(confirmed) - set(answered) <= set(stored)
    # at most the one press being written at each cut, stored but not thanked
    assert len(set(stored) | {a[1] for a in answers}) - len(confirmed) <= cuts


def close_consultation(db, cid):
    """The consultation's closing instant is now: the server republishes the config."""
    conn = sqlite3.connect(db)
    with conn:
        now = int(time.time() * 1000)
        conn.execute("UPDATE consultations SET closes_ms = ?, updated_ms = ? WHERE id = ?",
                     (now, now, cid))
    conn.close()


def test_broker_down_then_back(rig):
    rig.fw.start()
    rig.synced(timeout=30)
    configured(rig.fw)
    first = press_many(rig.fw, 5)
    rig.synced()
    rig.broker.stop(kill=True)
    rig.fw.wait_status(lambda s: s["mqtt"] == "down", timeout=30)
    during = press_many(rig.fw, 20, 5)
    assert rig.fw.ask("status")["journal"] == 20
    rig.broker.start()
    rig.synced(timeout=60)
    assert rig.stored() == first + during


def server_side_client(rig):
    # A spare server account (workers=2 in the generated config): the broker
    # makes the client id the user name, so the server's own would be kicked.
    user = INGEST_PREFIX + "2"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
    c.username_pw_set(user, ss.server_secret(rig.db))
    return c


def _set_ack_readable(rig, readable):
    # Without read access to its ack topic the kiosk never sees the server's acks.
    set_kiosk_acl(rig, "publishClientReceive", "ack", readable)


def set_kiosk_acl(rig, acltype, name, allowed):
    """Give or take one of the kiosk's topic rights, through Mosquitto's
    control topic as `borne kiosk` commands do."""
    role = dynsec.kiosk_role(rig.dev)["rolename"]
    acl = {"rolename": role, "acltype": acltype, "topic": w.topic(rig.dev, name)}
    command = (dict(acl, command="addRoleACL", priority=0, allow=True) if allowed
               else dict(acl, command="removeRoleACL"))
    conn = connect(rig.db)
    try:
        assert not [r for r in dynsec.send(conn, [command]) if r.get("error")]
    finally:
        conn.close()
    time.sleep(0.5)


def test_ack_lost_batch_resent_twice_stored_once(rig):
    rig.fw.start()
    rig.synced(timeout=30)
    configured(rig.fw)
    _set_ack_readable(rig, False)
    seqs = press_many(rig.fw, 12)
    deadline = time.monotonic() + 30
    while rig.stored() != seqs and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rig.stored() == seqs  # committed, but the kiosk has no ack
    time.sleep(2.5)  # sync_s = 1: the batch goes again, more than once
    st = rig.fw.ask("status")
    assert st["journal"] == 12 and st["acked"] == 0
    _set_ack_readable(rig, True)
    rig.synced(timeout=30)
    assert rig.stored() == seqs  # each vote once
    assert any("no ack" in line for line in rig.fw.logs)


def test_malformed_control_messages_are_ignored(rig):
    rig.fw.start()
    rig.synced(timeout=30)
    configured(rig.fw)
    site = rig.fw.ask("show config")["site"]
    c = server_side_client(rig)
    c.connect("127.0.0.1", rig.broker.port)
    c.loop_start()
    try:
        for name, payload in [
            ("config", b"{not json"), ("config", b'{"v":1,"site":"x","buttons":9}'),
            ("time", b'{"v":1,"utc_ms":5}'), ("time", b"\xff\xfe"),
            ("ack", b"\x01\x41\x00"), ("ack", w.encode_ack("someone-else", 3)),
            ("ack", w.encode_ack(rig.dev, 99999)),
        ]:
            c.publish(w.topic(rig.dev, name), payload, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 20
        while (sum("refused" in line for line in rig.fw.logs) < 7
               and time.monotonic() < deadline):
            time.sleep(0.2)
    finally:
        c.loop_stop()
        c.disconnect()
    assert sum("refused" in line for line in rig.fw.logs) == 7
    assert rig.fw.ask("show config")["site"] == site  # previous config kept
    seqs = press_many(rig.fw, 3)
    rig.synced()
    assert rig.stored() == seqs


def test_votes_before_the_clock_is_known_are_dated_by_the_anchor(rig):
    rig.fw.start()
    rig.synced(timeout=30)
    configured(rig.fw)  # lockout 0 is now in the kiosk's flash
    rig.fw.kill()
    rig.broker.stop()
    t0 = int(time.time() * 1000)
    rig.fw.start()  # a new boot with no network: the clock is unknown
    assert rig.fw.ask("status")["clock"] == "unknown"
    seqs = press_many(rig.fw, 5)
    rig.broker.start()
    rig.synced(timeout=60)
    t1 = int(time.time() * 1000)
    assert rig.fw.ask("status")["clock"] == "server"
    deadline = time.monotonic() + 20
    while True:  # the anchor may follow the votes in a batch of its own
        conn = sqlite3.connect(rig.db)
        try:
            rows = conn.execute("SELECT seq, flags, utc_ms FROM votes WHERE device_id = ?"
                                " ORDER BY seq", (rig.dev,)).fetchall()
        finally:
            conn.close()
        if all(r[2] is not None for r in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [r[0] for r in rows] == seqs
    for seq, flags, utc in rows:
        assert flags & w.F_CLOCK_UNKNOWN
        assert utc is not None and t0 - 2000 <= utc <= t1 + 2000, (seq, utc, t0, t1)


def test_status_will_and_telemetry(rig):
    got = []
    c = server_side_client(rig)
    c.on_message = lambda cl, u, m: got.append((m.topic.rsplit("/", 1)[-1], m.payload,
                                                m.retain))
    c.connect("127.0.0.1", rig.broker.port)
    c.subscribe([(w.topic(rig.dev, "status"), 1), (w.topic(rig.dev, "telemetry"), 1)])
    c.loop_start()
    try:
        rig.fw.start()
        rig.synced(timeout=30)
        deadline = time.monotonic() + 20
        while not any(g[0] == "telemetry" for g in got) and time.monotonic() < deadline:
            time.sleep(0.1)
        status = [w.decode_status(p) for n, p, r in got if n == "status"]
        assert status[-1]["state"] == "online" and status[-1]["boot"] == 1
        assert status[-1]["fw"] == rig.fw.ask("version")["fw"]
        tele = [w.decode_telemetry(p) for n, p, r in got if n == "telemetry"][0]
        assert tele["boot"] == 1 and tele["journal"] == 0 and tele["clock"] in ("server", "unknown")
        for key in ("battery_mv", "battery_pct", "rssi", "fw", "uptime_s", "suppressed",
                    "dropped", "heap_free"):
            assert key in tele
        got.clear()
        rig.fw.kill()  # power cut: the broker publishes the last will
        deadline = time.monotonic() + 20
        while not any(n == "status" for n, p, r in got) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [w.decode_status(p)["state"] for n, p, r in got if n == "status"] == ["offline"]
    finally:
        c.loop_stop()
        c.disconnect()


def test_silent_broker_is_detected_by_keepalive(rig):
    """A broker that stops answering (SIGSTOP: the TCP link stays open) is
    noticed by the keepalive, not waited on forever; votes wait in flash."""
    rig.fw.start()
    rig.synced(timeout=30)
    configured(rig.fw)
    rig.broker.proc.send_signal(signal.SIGSTOP)
    try:
        seqs = press_many(rig.fw, 3)  # the console still answers at once
        rig.fw.wait_status(lambda s: s["mqtt"] == "down", timeout=30)
    finally:
        rig.broker.proc.send_signal(signal.SIGCONT)
    rig.synced(timeout=60)
    assert rig.stored() == seqs
    assert any("keepalive" in line or "Timeout" in line for line in rig.fw.logs), rig.fw.logs
