"""The registry commands and broker trust: `borne site/kiosk/broker-config`,
then a real Mosquitto (and the embedded broker) enforcing the rules."""
import json
import os
import threading

import paho.mqtt.client as mqtt
import pytest

from protocol import server_wire as w
from sync_server.commands.cli import main
from sync_server.storage import credentials as passwords
from tests import realparts
from tests.realparts import wait_until
from tests.server_support import Server, secured_mosquitto, server_secret, write_broker_config


def borne(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_site_and_kiosk_commands(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    code, out, _ = borne(capsys, "site", "add", "mairie-centre", "--name", "Mairie centre",
                         "--hours", '{"0": [[510, 720]]}', "--db", db)
    assert code == 0
    code, out, _ = borne(capsys, "site", "list", "--json", "--db", db)
    site = json.loads(out)[0]
    assert (site["id"], site["timezone"], site["buttons"], site["hours"]) == (
        "mairie-centre", "Europe/Paris", 4, {"0": [[510, 720]]})
    code, out, _ = borne(capsys, "kiosk", "add", "--site", "mairie-centre", "--json", "--db", db)
    made = json.loads(out)
    assert code == 0 and made["device_id"] == "k0001" and len(made["secret"]) >= 20
    code, out, _ = borne(capsys, "kiosk", "add", "--site", "mairie-centre", "--id", "hall-2",
                         "--db", db)
    assert "hall-2" in out and "secret" in out
    code, out, _ = borne(capsys, "kiosk", "list", "--json", "--db", db)
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["hall-2", "k0001"]
    assert all("secret" not in k for r in rows for k in r)  # the secret is never shown again
    assert borne(capsys, "kiosk", "revoke", "k0001", "--db", db)[0] == 0
    code, out, _ = borne(capsys, "kiosk", "list", "--db", db)
    assert "revoked" in out
    os.environ.pop("BORNE_DB", None)


@pytest.mark.parametrize("argv, message", [
    (["site", "add", "Bad Id", "--name", "x"], "site id"),
    (["site", "add", "s2", "--name", "x", "--timezone", "Mars/Olympus"], "time zone"),
    (["site", "add", "s2", "--name", "x", "--hours", '{"9": []}'], "weekday"),
    (["site", "add", "s1", "--name", "again"], "already exists"),
    (["kiosk", "add", "--site", "nowhere"], "unknown site"),
    (["kiosk", "add", "--site", "s1", "--id", "bad/id"], "kiosk id"),
    (["kiosk", "revoke", "ghost"], "unknown kiosk"),
    (["site", "set", "s1", "--buttons", "3", "--hours", "[[1]]"], "hours"),
])
def test_bad_registry_input_is_one_clear_line(tmp_path, capsys, argv, message):
    db = str(tmp_path / "b.db")
    assert borne(capsys, "site", "add", "s1", "--name", "S", "--db", db)[0] == 0
    code, out, err = borne(capsys, *argv, "--db", db)
    assert code == 2
    assert err.startswith("borne: error:") and message in err and err.count("\n") == 1


def test_dynamic_security_file_holds_mosquitto_hashes(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    borne(capsys, "site", "add", "s1", "--name", "S", "--db", db)
    made = json.loads(borne(capsys, "kiosk", "add", "--site", "s1", "--json", "--db", db)[1])
    assert borne(capsys, "broker-config", "--out", str(tmp_path / "mq"), "--db", db)[0] == 0
    clients = json.load(open(tmp_path / "mq" / "borne" / "dynamic-security.json"))["clients"]
    lines = {c["username"]: "$7$%d$%s$%s" % (c["iterations"], c["salt"], c["password"])
             for c in clients}
    assert passwords.verify_secret(made["secret"], lines[made["device_id"]])
    assert not passwords.verify_secret("wrong", lines[made["device_id"]])
    assert passwords.verify_secret(server_secret(db), lines["borne-server"])


class Probe:
    """An MQTT client that records what it receives."""

    def __init__(self, port, user, password):
        self.got = []
        self.refused = None
        self.connected = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.got.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc == 0:
            self.connected.set()
        else:
            self.refused = rc
            client.disconnect()
        self.answered = True

    def subscribe(self, topic):
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(5)

    def publish(self, topic, payload, retain=False):
        self.c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()




def check_kiosk_isolation(port, a, b, server_password):
    server = Probe(port, "borne-server", server_password)
    ka = Probe(port, a[0], a[1])
    kb = Probe(port, b[0], b[1])
    for p in (server, ka, kb):
        assert p.connected.wait(5), "could not connect"
    server.subscribe("borne/v1/#")
    for name in ("ack", "config", "time", "votes"):
        ka.subscribe(w.topic(b[0], name))  # refused by the broker (or never delivered)
    kb.subscribe(w.topic(b[0], "ack"))
    # A publishing as B, and into B's control topics, reaches nobody.
    for name in ("votes", "status", "telemetry", "ack", "config"):
        ka.publish(w.topic(b[0], name), b"forged by A")
    # A kiosk may not write its own ack or config either.
    ka.publish(w.topic(a[0], "ack"), b"self ack")
    # A's own votes arrive, and B's ack reaches B only (the test's control).
    ka.publish(w.topic(a[0], "votes"), b"from A")
    server.publish(w.topic(b[0], "ack"), b"for B")
    assert wait_until(lambda: (w.topic(a[0], "votes"), b"from A") in server.got)
    # The server's own ack comes back to it too (it reads borne/v1/#), maybe after B's.
    assert wait_until(lambda: (w.topic(b[0], "ack"), b"for B") in server.got)
    assert wait_until(lambda: kb.got)
    assert kb.got == [(w.topic(b[0], "ack"), b"for B")]
    # (a running server's own retained configs may show up; ignore them)
    ours = [(t, p) for t, p in server.got if not t.endswith("/config") or b"forged" in p]
    assert ours == [(w.topic(a[0], "votes"), b"from A"), (w.topic(b[0], "ack"), b"for B")]
    assert ka.got == []
    for p in (server, ka, kb):
        p.close()


def refused(port, user, password):
    p = Probe(port, user, password)
    wait_until(lambda: p.refused is not None or p.connected.is_set())
    p.close()
    return p.refused is not None and not p.connected.is_set()


def two_kiosks(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    borne(capsys, "site", "add", "s1", "--name", "S", "--db", db)
    ks = [json.loads(borne(capsys, "kiosk", "add", "--site", "s1", "--json", "--db", db)[1])
          for _ in range(2)]
    return db, [(k["device_id"], k["secret"]) for k in ks]


def test_mosquitto_with_generated_config_isolates_kiosks(tmp_path, capsys):
    db, (a, b) = two_kiosks(tmp_path, capsys)
    broker = secured_mosquitto(db)
    try:
        check_kiosk_isolation(broker.port, a, b, server_secret(db))
        assert refused(broker.port, a[0], "not the secret")
        assert refused(broker.port, a[0] + "x", a[1])
        # Revoke A, regenerate, restart: A is refused, B still comes in.
        assert borne(capsys, "kiosk", "revoke", a[0], "--db", db)[0] == 0
        write_broker_config(db, broker)
        broker.restart()
        assert refused(broker.port, a[0], a[1])
        assert not refused(broker.port, b[0], b[1])
    finally:
        broker.stop()


def test_embedded_broker_applies_the_same_rules(tmp_path, capsys):
    db, (a, b) = two_kiosks(tmp_path, capsys)
    port = realparts.free_port()
    srv = Server(db, "--broker-port", str(port), "--http", "127.0.0.1:0").start()
    try:
        check_kiosk_isolation(port, a, b, server_secret(db))
        assert refused(port, a[0], "not the secret")
        # Revocation applies at the next connection, no restart needed.
        assert borne(capsys, "kiosk", "revoke", a[0], "--db", db)[0] == 0
        assert refused(port, a[0], a[1])
        assert not refused(port, b[0], b[1])
    finally:
        assert srv.terminate() == 0
