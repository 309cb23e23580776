"""`borne provision` through pyserial: a simulated kiosk (real firmware under
MicroPython, console on its pseudo-terminal) is registered, configured and
verified, then its votes reach the real `borne serve`; each failure at the
USB port gives its one-line message."""
import os
import threading
import time

import pytest

from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts
from tests.realparts import poll
from tests.server.devices.support import SITE, borne
from tests.server_support import api_get, api_headers

__all__ = ["SITE", "borne"]  # tests/server/broker uses them


def test_provision_end_to_end_then_votes_reach_server(server, kiosk):
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE,
                "--broker", server["broker"], "--lab-plain-tcp",
                "--wifi", "Mairie-Wifi", "--wifi-pass", "s3cret",
                "--db", server["db"], "--wait-online", "20")
    assert out.returncode == 0, out.stderr
    assert "registered kiosk k0001 at site %s" % SITE in out.stdout
    assert "read back: device k0001, site %s, broker %s, wifi Mairie-Wifi" % (
        SITE, server["broker"]) in out.stdout
    assert "mqtt up" in out.stdout, out.stdout
    # The configuration survived the restart and the secret never shows.
    assert "s3cret" not in out.stdout + out.stderr
    conn = connect(server["db"])
    assert [r["id"] for r in registry.list_kiosks(conn, SITE)] == ["k0001"]
    conn.close()
    # Votes pressed on the kiosk now reach the server with its new identity
    # (once the site's config, without press lockout, has reached it).
    from sync_server.devices.console import KioskConsole
    with KioskConsole(kiosk.serial.path) as con:
        poll(lambda: con.command("show config")["lockout_s"] == 0, 20, "the site's config")
    for level in (2, 0, 1):
        assert kiosk.press(level)
        time.sleep(0.05)

    headers = api_headers(server["db"])

    def votes():
        url = "%s/api/v1/sites/%s/votes?limit=100" % (server["http"], SITE)
        status, body = api_get(url, headers)
        got = sorted((v["seq"], v["level"]) for v in body["votes"] if v["device_id"] == "k0001")
        return got if len(got) == 3 else None
    got = poll(votes, 30, "three votes in the API")
    assert [level for _, level in got] == [2, 0, 1]


def test_given_credentials_and_an_empty_secret(server, kiosk):
    conn = connect(server["db"])
    dev, secret = registry.add_kiosk(conn, SITE, "accueil-1")
    conn.close()
    bad = borne("provision", "--port", kiosk.serial.path, "--site", SITE,
                "--device-id", dev, "--secret=")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "borne: error: --secret must not be empty"
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE,
                "--broker", server["broker"], "--lab-plain-tcp", "--device-id", dev,
                "--secret=" + secret)
    assert out.returncode == 0, out.stderr
    assert "registered" not in out.stdout
    assert "read back: device accueil-1, site %s" % SITE in out.stdout


def test_port_missing(tmp_path):
    out = borne("provision", "--port", tmp_path / "ttyUSB7", "--site", SITE,
                "--device-id", "k1", "--secret", "abc")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "borne: error: serial port %s not found: is the kiosk plugged in? "
        "(look for /dev/ttyUSB* or /dev/ttyACM*)" % (tmp_path / "ttyUSB7"))


def test_permission_denied():
    """A pty the unprivileged user `nobody` may not open, as /dev/ttyUSB0 is
    for a user outside the dialout group."""
    if not realparts.find_binary("setpriv") or os.geteuid() != 0:
        realparts.missing("setpriv run as root (to test as an unprivileged user)")
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        os.chmod(path, 0o600)
        out = borne("provision", "--port", path, "--site", SITE, "--device-id", "k1",
                    "--secret", "abc", user=65534)
        assert out.returncode == 2, out.stdout
        assert out.stderr.strip().startswith(
            "borne: error: permission denied on serial port %s: add your user" % path)
        assert "Traceback" not in out.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_no_answer_in_time():
    """A port with nothing behind it: the bytes go out, nobody answers."""
    with realparts.silent_port() as port:
        out = borne("provision", "--port", port, "--site", SITE,
                    "--device-id", "k1", "--secret", "abc", "--timeout", "1")
        assert out.returncode == 2
        assert out.stderr.strip() == (
            "borne: error: no answer from the kiosk on %s to 'version' within 1s: is it "
            "powered and running the Borne firmware at 115200 baud?" % port)


class FakeConsole:
    """Answers a console's `version` with the given reply on a pty (the text
    protocol does not depend on hardware); logs every line it received."""

    def __init__(self, reply):
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.reply = reply
        self.received = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        buf = b""
        while True:
            try:
                data = os.read(self.master, 1024)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.strip().decode()
                if not line:
                    continue
                self.received.append(line)
                os.write(self.master, b"LOG mqtt: connecting\r\n")
                answer = self.reply if line == "version" else "ERR unknown command"
                os.write(self.master, answer.encode() + b"\r\n")

    def close(self):
        os.close(self.slave)
        os.close(self.master)


@pytest.mark.parametrize("reply, shown", [
    ('OK {"fw":"2.0.0","proto":2,"board":"esp32"}', "firmware 2.0.0 speaks protocol 2"),
    ('OK {"fw":"1.4.0","proto":3,"board":"rp2"}', "firmware 1.4.0 speaks protocol 3"),
])
def test_incompatible_firmware_version(tmp_path, reply, shown):
    db = tmp_path / "borne.db"
    conn = connect(db)
    registry.add_site(conn, SITE, "Mairie")
    conn.close()
    fake = FakeConsole(reply)
    try:
        out = borne("provision", "--port", fake.path, "--site", SITE, "--db", db,
                    "--broker", "mqtt://10.0.0.5:1883", "--lab-plain-tcp", "--timeout", "3")
        assert out.returncode == 2
        assert out.stderr.strip() == (
            "borne: error: incompatible kiosk firmware on %s: %s; this server needs "
            "firmware 1.x with protocol 1 (update it with `borne firmware deploy --port %s`)"
            % (fake.path, shown, fake.path))
        # Checked before anything is registered or written.
        assert fake.received == ["version"]
        conn = connect(db)
        assert registry.list_kiosks(conn) == []
        conn.close()
    finally:
        fake.close()


def test_kiosk_stopped_at_the_micropython_prompt(kiosk):
    """Ctrl-C on the USB serial stops the firmware as on a board: provisioning
    then says so; Ctrl-D (soft reset) brings the firmware back."""
    with open(kiosk.serial.path, "r+b", buffering=0) as port:
        port.write(b"\r\x03")
        out = borne("provision", "--port", kiosk.serial.path, "--site", SITE,
                    "--device-id", "k1", "--secret", "abc", "--timeout", "2")
        assert out.returncode == 2
        assert out.stderr.strip().endswith(
            "a MicroPython prompt answered: the Borne firmware is not running (press Ctrl-D "
            "in a terminal to restart it, or deploy it with `borne firmware deploy`)")
        boots = sum(e["ev"] == "hello" for e in kiosk.events)
        port.write(b"\x04")
        poll(lambda: sum(e["ev"] == "hello" for e in kiosk.events) > boots, 20,
             "the firmware back after the soft reset")
    from sync_server.devices.console import KioskConsole
    with KioskConsole(kiosk.serial.path) as con:
        assert con.command("version")["board"] == "sim"


def test_refuses_to_move_undelivered_votes_to_another_identity(tmp_path, kiosk):
    """A kiosk holding votes not yet delivered keeps its identity and site:
    otherwise they would count for another kiosk or site."""
    db = tmp_path / "borne.db"
    conn = connect(db)
    registry.add_site(conn, SITE, "Mairie")
    registry.add_site(conn, "mairie-sud", "Mairie sud")
    dev, secret = registry.add_kiosk(conn, SITE, "hall-1")
    conn.close()
    nowhere = "mqtt://127.0.0.1:%d" % realparts.free_port()  # votes stay in the journal
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE, "--broker", nowhere,
                "--lab-plain-tcp",
                "--device-id", dev, "--secret=" + secret, "--wait-online", "0")
    assert out.returncode == 0, out.stderr
    from sync_server.devices.console import KioskConsole
    with KioskConsole(kiosk.serial.path) as con:
        assert con.command("press 2") == {"seq": 1}
    for extra in (("--db", db), ("--db", db, "--device-id", "hall-2")):
        out = borne("provision", "--port", kiosk.serial.path, "--site", "mairie-sud", *extra)
        assert out.returncode == 2
        assert out.stderr.strip() == (
            "borne: error: the kiosk on %s still holds 1 vote(s) of kiosk hall-1 (site %s) not "
            "yet delivered: connect it to its server until its journal is empty, then "
            "provision it again" % (kiosk.serial.path, SITE))
    conn = connect(db)
    assert [r["id"] for r in registry.list_kiosks(conn)] == ["hall-1"]  # nothing registered
    conn.close()
    # Same identity and site (a new Wi-Fi, say): allowed, the votes stay hall-1's.
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE, "--device-id", dev,
                "--secret=" + secret, "--wifi", "Annexe", "--wifi-pass", "pw", "--wait-online", "0")
    assert out.returncode == 0, out.stderr
    with KioskConsole(kiosk.serial.path) as con:
        assert con.command("journal")["pending"] == 1
        assert con.command("show config")["device"] == "hall-1"
