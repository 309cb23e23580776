"""MQTT over TLS end to end: the real firmware under the MicroPython unix
port (mbedTLS) against a real Mosquitto TLS listener made by `borne
broker-config --tls` from the certificates of `borne tls init`. The right CA
connects and votes are stored once each; a wrong CA, an expired certificate
and a wrong host name are refused with a clear message."""
import base64
import datetime
import pathlib
import sqlite3

import pytest

from sync_server.broker import tls
from tests import realparts
from tests import server_support as ss
from tests.firmware.net_support import DnsServer
from tests.firmware_support import Firmware

pytestmark = pytest.mark.timeout(180)
HOST = "broker.test"
# TLS needs more heap than plain TCP: see firmware/README.md for the measured minimum.
HEAP = "128k"


def pin(fw, ca_cert):
    der = ca_cert.public_bytes(tls.serialization.Encoding.DER)
    got = fw.ask("set ca " + base64.b64encode(der).decode())
    assert got == {"ca": tls.fingerprint(der)}, got
    assert fw.ask("show config")["ca"] == tls.fingerprint(der)


def write_pem(path, data):
    path.write_bytes(data)
    path.chmod(0o644)
    return str(path)


def tls_broker(cert, key):
    """Anonymous Mosquitto whose only listener is TLS with this certificate."""
    broker = realparts.Mosquitto()
    d = pathlib.Path(broker.dir)
    broker.conf = ("certfile %s\nkeyfile %s\nallow_anonymous true\n"
                   % (write_pem(d / "b.crt", tls.cert_pem(cert)),
                      write_pem(d / "b.key", tls.key_pem(key))))
    return broker.start()


@pytest.fixture
def dns():
    d = DnsServer({HOST: "127.0.0.1"})
    yield d
    d.close()


def test_right_ca_votes_flow_exactly_once_and_dns_at_each_connection(micropython, tmp_path,
                                                                       dns):
    tlsdir = tmp_path / "tls"
    tls.init(tlsdir, [HOST])
    db = str(tmp_path / "borne.db")
    keys = ss.make_registry(db, kiosks=1, lockout_s=0, sync_s=2)
    dev, secret = next(iter(keys.items()))
    broker = realparts.Mosquitto(conf="")
    tls_port = realparts.free_port()
    # In the broker's own folder: Mosquitto drops to a user that cannot
    # enter pytest's private temporary folders.
    ss.write_broker_config(db, broker, tls=str(tlsdir),
                           tls_listener="127.0.0.1:%d" % tls_port)
    assert "listener %d 127.0.0.1" % tls_port in broker.conf
    broker.start()
    server = ss.Server(db, "--http", "127.0.0.1:0", "--mqtt", broker.url).start()
    fw = Firmware(micropython, tmp_path / "flash.img", heap=HEAP, env=dict(
        BORNE_DEVICE=dev, BORNE_PASS=secret, BORNE_BROKER="mqtts://%s:%d" % (HOST, tls_port),
        BORNE_DNS=dns.addr, BORNE_KEEPALIVE="4"))
    try:
        fw.start()
        # No CA yet: the kiosk refuses to connect rather than trust anyone.
        realparts.poll(lambda: any("no CA pinned" in line for line in fw.logs), 20,
                       "the missing CA to be logged")
        assert fw.ask("status")["mqtt"] == "down"
        pin(fw, tls.load_ca(tlsdir)[0])
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=40)
        realparts.poll(lambda: fw.ask("show config")["lockout_s"] == 0, 20, "server config")
        seqs = [fw.ask("press %d" % (i % 4))["seq"] for i in range(6)]
        fw.wait_status(lambda s: s["journal"] == 0, timeout=40)
        first = dns.count(HOST)
        assert first >= 1
        broker.restart()  # the link drops: the kiosk resolves the name again
        fw.wait_status(lambda s: s["mqtt"] == "down", timeout=30)
        more = [fw.ask("press 1")["seq"]]
        fw.wait_status(lambda s: s["mqtt"] == "up" and s["journal"] == 0, timeout=60)
        assert dns.count(HOST) > first
        c = sqlite3.connect(db)
        stored = [r[0] for r in c.execute(
            "SELECT seq FROM votes WHERE device_id = ? ORDER BY seq", (dev,))]
        c.close()
        assert stored == seqs + more  # each vote exactly once
        assert not any("plain TCP" in line for line in fw.logs)
    finally:
        fw.stop()
        server.stop()
        broker.stop()


def _expired(ca, key):
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=400)
    return tls.make_server_cert(ca, key, [HOST], days=30, not_before=start)


@pytest.mark.parametrize("case, message", [
    ("wrong CA", "not signed by the CA pinned on this kiosk"),
    ("expired", "certificate has expired"),
    ("wrong host", "certificate is not for host %s" % HOST),
])
def test_refused_with_a_clear_message(micropython, tmp_path, dns, case, message):
    ca, ca_key = tls.make_ca()
    if case == "expired":
        cert, key = _expired(ca, ca_key)
    else:
        cert, key = tls.make_server_cert(
            ca, ca_key, ["other.test" if case == "wrong host" else HOST])
    pinned = tls.make_ca()[0] if case == "wrong CA" else ca
    broker = tls_broker(cert, key)
    fw = Firmware(micropython, tmp_path / "flash.img", heap=HEAP, env=dict(
        BORNE_DEVICE="k1", BORNE_PASS="x", BORNE_DNS=dns.addr,
        BORNE_BROKER="mqtts://%s:%d" % (HOST, broker.port)))
    try:
        fw.start()
        pin(fw, pinned)
        seq = fw.ask("press 2")["seq"]
        realparts.poll(lambda: any(message in line for line in fw.logs), 30,
                       "the refusal to be logged")
        line = next(line for line in fw.logs if message in line)
        assert line.startswith("mqtt: OSError TLS refused: "), line
        st = fw.ask("status")
        assert st["mqtt"] == "down" and st["journal"] == 1 and st["seq"] == seq
    finally:
        fw.stop()
        broker.stop()


def test_a_ca_that_is_not_a_certificate_is_refused(micropython, tmp_path):
    fw = Firmware(micropython, tmp_path / "flash.img").start()
    try:
        assert fw.ask("set ca " + base64.b64encode(b"not a certificate").decode())[0] == "ERR"
        assert fw.ask("show config")["ca"] is None
    finally:
        fw.stop()


def test_the_embedded_broker_serves_tls(micropython, tmp_path, dns):
    """`borne serve --tls`: the zero-install broker takes kiosks over TLS."""
    tlsdir = tmp_path / "tls"
    tls.init(tlsdir, [HOST])
    db = str(tmp_path / "borne.db")
    dev, secret = next(iter(ss.make_registry(db, kiosks=1).items()))
    tls_port = realparts.free_port()
    server = ss.Server(db, "--http", "127.0.0.1:0", "--broker-port", "0", "--tls", str(tlsdir),
                       "--tls-listener", "127.0.0.1:%d" % tls_port).start()
    fw = Firmware(micropython, tmp_path / "flash.img", heap=HEAP, env=dict(
        BORNE_DEVICE=dev, BORNE_PASS=secret, BORNE_BROKER="mqtts://%s:%d" % (HOST, tls_port),
        BORNE_DNS=dns.addr))
    try:
        fw.start()
        pin(fw, tls.load_ca(tlsdir)[0])
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=40)
        seq = fw.ask("press 0")["seq"]
        fw.wait_status(lambda s: s["acked"] >= seq, timeout=40)  # stored, then acked
    finally:
        fw.stop()
        server.stop()
