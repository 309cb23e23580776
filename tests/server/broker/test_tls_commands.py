"""`borne tls init`, `borne broker-config --tls` and `borne provision --ca`:
the CA and broker certificate are made, Mosquitto's TLS listener written,
and the CA pinned on a simulated kiosk through its serial console."""
import os
import stat

import pytest
from cryptography import x509

from sync_server.broker import tls
from tests import realparts
from tests.server.devices.test_provision import SITE, borne
from tests.server_support import make_registry


@pytest.fixture
def kiosk(tmp_path):
    """An unprovisioned simulated kiosk with the heap TLS needs."""
    realparts.need_binary("micropython")
    from simulator.kiosk import Kiosk
    events = []
    k = Kiosk(1, str(tmp_path / "kiosk"), {}, events.append, heapsize="128k")
    k.power_on()
    realparts.poll(lambda: any(e["ev"] == "hello" for e in events), 20, "the hello")
    yield k
    k.close()


def test_tls_init_makes_a_ca_once_and_a_broker_certificate(tmp_path):
    d = tmp_path / "tls"
    out = borne("tls", "init", "--dir", d, "--host", "mqtt.example.org", "--host", "10.0.0.5")
    assert out.returncode == 0, out.stderr
    assert "created CA" in out.stdout
    for name in ("ca.key", "broker.key"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((d / "broker.crt").read_bytes())
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mqtt.example.org"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    again = borne("tls", "init", "--dir", d, "--host", "mqtt.example.org")
    assert again.returncode == 0 and "kept CA" in again.stdout
    assert x509.load_pem_x509_certificate((d / "ca.crt").read_bytes()) == ca
    bad = borne("tls", "init", "--dir", d, "--host", "bad host")
    assert bad.returncode == 2 and "--host" in bad.stderr


def test_broker_config_tls_listener(tmp_path):
    db = str(tmp_path / "borne.db")
    make_registry(db, kiosks=1)
    tls.init(tmp_path / "tls", ["mqtt.example.org"])
    out = borne("broker-config", "--db", db, "--out", tmp_path / "mosq", "--tls",
                tmp_path / "tls", "--tls-listener", "0.0.0.0:8883")
    assert out.returncode == 0, out.stderr
    conf = (tmp_path / "mosq" / "borne.conf").read_text()
    files = tmp_path / "mosq" / "borne"
    assert "listener 8883 0.0.0.0\ncertfile %s/broker.crt\nkeyfile %s/broker.key\n" % (
        files, files) in conf
    assert (files / "broker.crt").read_bytes() == (
        tmp_path / "tls" / "broker.crt").read_bytes()
    missing = borne("broker-config", "--db", db, "--out", tmp_path / "m2", "--tls",
                    tmp_path / "none")
    assert missing.returncode == 2 and "borne tls init" in missing.stderr


def test_provision_pins_the_ca(tmp_path, kiosk):
    tls.init(tmp_path / "tls", ["mqtt.example.org"])
    ca = tmp_path / "tls" / "ca.crt"
    common = ("provision", "--port", kiosk.serial.path, "--site", SITE, "--device-id", "k9",
              "--secret", "s3cret", "--wait-online", "0")
    plain = borne(*common, "--broker", "mqtt://10.0.0.5:1883")
    assert plain.returncode == 2 and "--lab-plain-tcp" in plain.stderr
    no_ca = borne(*common, "--broker", "mqtts://mqtt.example.org:8883")
    assert no_ca.returncode == 2 and "needs --ca" in no_ca.stderr
    not_ca = borne(*common, "--broker", "mqtts://mqtt.example.org:8883", "--ca",
                   tmp_path / "tls" / "broker.crt")
    assert not_ca.returncode == 2 and "not a CA certificate" in not_ca.stderr
    out = borne(*common, "--broker", "mqtts://mqtt.example.org:8883", "--ca", ca)
    assert out.returncode == 0, out.stderr
    assert "broker mqtts://mqtt.example.org:8883" in out.stdout
    fp = tls.fingerprint(tls.ca_der(ca))
    assert "ca %s" % fp in out.stdout
