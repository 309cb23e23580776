"""`borne broker-config --out conf.d` as Debian's Mosquitto reads it: a real
Mosquitto whose main file mimics Debian 12's (`include_dir`, pid and log
lines), the drop-in as generated, `borne serve` and kiosks through it; kiosks
added and revoked while it runs take effect without a restart or SIGHUP."""
import json
import os
import subprocess
import tempfile

import pytest

from protocol import server_wire as w
from tests import realparts
from tests.server.storage.test_server_registry import Probe, refused
from tests.server_support import T0, Server, borne, stored

pytestmark = pytest.mark.timeout(120)


class DebianMosquitto:
    """/etc/mosquitto/mosquitto.conf as Debian 12 ships it, in a folder
    user mosquitto can enter (Mosquitto started as root drops to it)."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="borne-debian-")
        os.chmod(self.root, 0o777)
        self.confd = os.path.join(self.root, "conf.d")
        os.makedirs(self.confd)
        os.makedirs(os.path.join(self.root, "lib"))
        os.chmod(os.path.join(self.root, "lib"), 0o777)
        self.main = os.path.join(self.root, "mosquitto.conf")
        with open(self.main, "w") as f:
            f.write("pid_file %s/mosquitto.pid\n\n"
                    "persistence true\npersistence_location %s/lib/\n\n"
                    "log_dest file %s/mosquitto.log\n\ninclude_dir %s\n"
                    % (self.root, self.root, self.root, self.confd))
        self.port = realparts.free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([realparts.need_binary("mosquitto"), "-c", self.main],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        realparts.wait_port(self.port, proc=self.proc)
        return self

    def log(self):
        with open(os.path.join(self.root, "mosquitto.log")) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def debian(tmp_path):
    m = DebianMosquitto()
    yield m
    m.stop()


def add_kiosk(db):
    out = borne("kiosk", "add", "--site", "s1", "--json", "--db", db)
    k = json.loads(out.stdout)
    return (k["device_id"], k["secret"]), out.stderr


def test_dropin_as_generated_serves_kiosks_and_the_server(tmp_path, debian):
    db = str(tmp_path / "borne.db")
    borne("site", "add", "s1", "--name", "S", "--db", db)
    (dev, secret), _ = add_kiosk(db)
    out = borne("broker-config", "--out", debian.confd, "--listener",
                "127.0.0.1:%d" % debian.port, "--db", db)
    # Only borne.conf is read by include_dir; its files sit in conf.d/borne/.
    assert sorted(os.listdir(debian.confd)) == ["borne", "borne.conf"]
    assert os.path.join(debian.confd, "borne.conf") in out.stdout
    conf = open(os.path.join(debian.confd, "borne.conf")).read()
    assert [x for x in conf.splitlines() if x.startswith("listener")] == [
        "listener %d 127.0.0.1" % debian.port]
    assert "persistence" not in conf  # Debian's main file has it
    debian.start()
    server = Server(db, "--http", "127.0.0.1:0", "--mqtt",
                    "mqtt://127.0.0.1:%d" % debian.port).start()
    try:
        kiosk = Probe(debian.port, dev, secret)
        assert kiosk.connected.wait(5)
        kiosk.publish(w.topic(dev, "votes"), w.encode_batch(dev, 1, [(1, T0, 2, 4, 0)]))
        realparts.poll(lambda: stored(db, dev), timeout=20, what="the vote to be stored")
        kiosk.close()
    finally:
        server.stop()
    log = debian.log()
    # One listener, on the address asked: no 0.0.0.0 nor [::] opened unasked.
    assert log.count("listen socket on port") == 1, log
    assert "ipv6" not in log


def test_kiosks_added_and_revoked_apply_to_the_running_broker(tmp_path, debian):
    db = str(tmp_path / "borne.db")
    borne("site", "add", "s1", "--name", "S", "--db", db)
    first, _ = add_kiosk(db)
    borne("broker-config", "--out", debian.confd, "--listener",
          "127.0.0.1:%d" % debian.port, "--db", db)
    debian.start()
    pid = debian.proc.pid
    # Added while Mosquitto runs: it can connect at once.
    (dev, secret), said = add_kiosk(db)
    assert "Mosquitto accepts kiosk %s" % dev in said
    kiosk = Probe(debian.port, dev, secret)
    assert kiosk.connected.wait(5), "the new kiosk was refused: %s" % kiosk.refused
    kiosk.subscribe(w.topic(dev, "ack"))
    # Revoked while connected: disconnected within seconds, then refused.
    out = borne("kiosk", "revoke", dev, "--db", db)
    assert "disconnected" in out.stderr
    assert realparts.wait_until(lambda: not kiosk.c.is_connected(), timeout=5)
    kiosk.close()
    assert refused(debian.port, dev, secret)
    assert not refused(debian.port, *first)
    # The same process all along, never told to reload.
    assert debian.proc.pid == pid and debian.proc.poll() is None
    assert "Reloading" not in debian.log()


def test_unreachable_mosquitto_is_reported_and_the_kiosk_kept(tmp_path, debian):
    db = str(tmp_path / "borne.db")
    borne("site", "add", "s1", "--name", "S", "--db", db)
    borne("broker-config", "--out", debian.confd, "--listener",
          "127.0.0.1:%d" % debian.port, "--db", db)
    (dev, _secret), said = add_kiosk(db)  # Mosquitto not started
    assert said.startswith("warning: Mosquitto at 127.0.0.1:%d not reached" % debian.port)
    assert "borne broker-config" in said
    assert dev in borne("kiosk", "list", "--db", db).stdout


def test_listener_options_are_checked(tmp_path):
    db = str(tmp_path / "borne.db")
    borne("site", "add", "s1", "--name", "S", "--db", db)
    for bad in ("127.0.0.1:0", "127.0.0.1:x", "127.0.0.1:70000"):
        out = borne("broker-config", "--out", tmp_path / "c", "--listener", bad, "--db", db,
                    check=False)
        assert out.returncode == 2 and "--listener" in out.stderr and "Traceback" not in out.stderr
    out = borne("broker-config", "--out", tmp_path / "c", "--persistence", "/var/lib/x",
                "--db", db)
    conf = (tmp_path / "c" / "borne.conf").read_text()
    assert "persistence true\npersistence_location /var/lib/x/\n" in conf
