"""The provisioning flows a technician needs, each run as a command against a
simulated kiosk (the real firmware under MicroPython, its console on a
pseudo-terminal) and a real `borne serve` with its embedded broker: first
install as the README writes it, a new Wi-Fi or broker under the same
identity, replacing a broken kiosk, reset, decommission, recovering a revoked
kiosk that holds votes, one id on two devices, a provisioning cut half-way,
Wi-Fi texts with any printable character."""
import argparse
import json
import os
import time

import pytest

from sync_server.devices import provision as prov
from sync_server.devices.console import KioskConsole
from sync_server.errors import CliError
from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts
from tests.realparts import poll
from tests.server.devices.support import SITE, borne, flash_file, start_kiosk

pytestmark = pytest.mark.timeout(240)


def ask(kiosk, line):
    with KioskConsole(kiosk.serial.path) as con:
        return con.command(line)


def kiosks(db):
    conn = connect(db)
    try:
        return {r["id"]: bool(r["revoked_ms"]) for r in registry.list_kiosks(conn)}
    finally:
        conn.close()


def state(server, dev):
    conn = connect(server["db"])
    try:
        return registry.kiosk_record(conn, dev)["state"]
    finally:
        conn.close()


def stored_votes(server):
    """(device, seq) of every vote the server stored for the site, in order."""
    conn = connect(server["db"])
    try:
        return sorted(conn.execute("SELECT device_id, seq FROM votes WHERE site_id = ?",
                                   (SITE,)).fetchall())
    finally:
        conn.close()


def wait_votes(server, n):
    return poll(lambda: (lambda v: v if len(v) >= n else None)(stored_votes(server)), 40,
                "%d votes stored" % n)


def nowhere():
    return "mqtt://127.0.0.1:%d" % realparts.free_port()  # votes stay in the journal


def provision(kiosk, server, *extra, broker=None):
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE, "--db", server["db"],
                "--broker", broker or server["broker"], "--lab-plain-tcp",
                "--wait-online", "20" if broker is None else "0", *extra)
    assert out.returncode == 0, out.stderr
    return out


def press(kiosk, n):
    """n votes pressed on the kiosk's console; their seqs."""
    with KioskConsole(kiosk.serial.path) as con:
        if con.command("status")["mqtt"] == "up":
            poll(lambda: con.command("show config")["lockout_s"] == 0 or None, 20,
                 "the site's config (no lockout)")
        seqs = []
        for level in range(n):
            got = con.command("press %d" % (level % 3))
            if "seq" not in got:  # the 5 s lockout of a kiosk that has no config yet
                time.sleep(5.1)
                got = con.command("press %d" % (level % 3))
            seqs.append(got["seq"])
        return seqs


@pytest.fixture
def second_kiosk(tmp_path):
    k = start_kiosk(tmp_path / "kiosk2")
    yield k
    k.close()


@pytest.fixture
def tls_kiosk(tmp_path):
    k = start_kiosk(tmp_path / "kiosk", heapsize="128k")  # parsing the CA needs more heap
    yield k
    k.close()


def test_first_install_with_the_readme_command_as_written(tmp_path, tls_kiosk):
    """From the server's folder, where borne.db is: no --db, the kiosk is
    registered there; its secret goes only to the kiosk."""
    env = {k: v for k, v in os.environ.items() if k != "BORNE_DB"}
    site = borne("site", "add", "mairie-centre", "--name", "Mairie centrale", cwd=tmp_path,
                 env=env)
    assert site.returncode == 0, site.stderr
    tls = borne("tls", "init", "--dir", "tls", "--host", "borne.example.fr", cwd=tmp_path,
                env=env)
    assert tls.returncode == 0, tls.stderr
    readme = ("provision", "--port", tls_kiosk.serial.path, "--site", "mairie-centre",
              "--wifi", "SSID", "--wifi-pass", "PASS",
              "--broker", "mqtts://borne.example.fr:8883", "--ca", "tls/ca.crt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = borne(*readme, cwd=elsewhere, env=env)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "borne: error: database borne.db not found: run the command where the server's "
        "database is, or give --db PATH (or set $BORNE_DB)")
    assert not (elsewhere / "borne.db").exists()  # no empty database made
    assert ask(tls_kiosk, "show config")["device"] is None  # nothing written
    out = borne(*readme, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        "registered kiosk k0001 at site mairie-centre in borne.db (its secret goes only to "
        "the kiosk)\n(no Mosquitto configured: the embedded broker of `borne serve` "
        "applies it)\n")
    assert "read back: device k0001, site mairie-centre, broker mqtts://borne.example.fr:8883, "\
        "wifi SSID, ca " in out.stdout
    assert kiosks(tmp_path / "borne.db") == {"k0001": False}
    cfg = ask(tls_kiosk, "show config")
    assert cfg["device"] == "k0001" and cfg["ca"] and cfg["wifi_ssid"] == "SSID"


def test_a_new_wifi_and_broker_keep_the_identity_and_the_votes(server, kiosk):
    provision(kiosk, server, broker=nowhere())
    assert press(kiosk, 2) == [1, 2]
    wifi, password = ' Mairie "Accueil" \\ 2 ', "p@ss w0rd \"x\" \\ \u00e9t\u00e9 ;$`'"
    out = borne("provision", "--port", kiosk.serial.path, "--keep-identity",
                "--broker", server["broker"], "--lab-plain-tcp",
                "--wifi", wifi, "--wifi-pass", password, "--wait-online", "20")
    assert out.returncode == 0, out.stderr
    assert ("configuration changed, identity kept: device k0001, site %s, broker %s, wifi %s"
            % (SITE, server["broker"], wifi)) in out.stdout
    assert "mqtt up" in out.stdout
    assert password not in out.stdout + out.stderr
    assert wait_votes(server, 2) == [("k0001", 1), ("k0001", 2)]
    assert kiosks(server["db"]) == {"k0001": False}  # nothing new registered
    kiosk.power_cut()
    stored = json.loads(flash_file(kiosk, "prov.json"))
    assert stored["wifi_ssid"] == wifi and stored["wifi_pass"] == password
    assert stored["device"] == "k0001"


@pytest.mark.parametrize("option, text, message", [
    ("--wifi-pass", "tab\there", "--wifi-pass holds a control character"),
    ("--wifi", "x" * 33, "--wifi is 33 bytes long: at most 32"),
    ("--wifi", "", "--wifi must not be empty"),
])
def test_wifi_texts_a_kiosk_cannot_take_are_refused_first(kiosk, option, text, message):
    args = {"--wifi": "Mairie", "--wifi-pass": "pw", option: text}
    out = borne("provision", "--port", kiosk.serial.path, "--keep-identity",
                "--wifi", args["--wifi"], "--wifi-pass", args["--wifi-pass"])
    assert out.returncode == 2
    assert out.stderr.strip().startswith("borne: error: " + message)


def test_replace_a_broken_kiosk(server, kiosk, second_kiosk):
    provision(kiosk, server)
    press(kiosk, 1)
    assert wait_votes(server, 1) == [("k0001", 1)]
    kiosk.power_cut()  # broken
    out = borne("kiosk", "replace", "k0001", "--port", second_kiosk.serial.path,
                "--db", server["db"], "--broker", server["broker"], "--lab-plain-tcp",
                "--wait-online", "20")
    assert out.returncode == 0, out.stderr
    assert "registered kiosk k0002 at site %s" % SITE in out.stdout
    assert "kiosk k0001 revoked (its 1 stored vote(s) stay counted)" in out.stdout
    assert kiosks(server["db"]) == {"k0001": True, "k0002": False}
    press(second_kiosk, 1)
    assert wait_votes(server, 2) == [("k0001", 1), ("k0002", 1)]
    # The device being replaced is not its own replacement.
    again = borne("kiosk", "replace", "k0002", "--port", second_kiosk.serial.path,
                  "--db", server["db"])
    assert again.returncode == 2 and "is k0002 itself: plug in the new device" in again.stderr


def test_reset_refuses_to_drop_votes_unless_their_count_is_confirmed(server, kiosk):
    provision(kiosk, server, broker=nowhere())
    press(kiosk, 2)
    cmd = ("kiosk", "reset", "--port", kiosk.serial.path, "--wait", "1")
    out = borne(*cmd)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "borne: error: the kiosk on %s still holds 2 vote(s) not delivered after 1s (it is "
        "not connected to its broker: connect it (`borne provision --port %s --keep-identity "
        "--wifi ... --wifi-pass ...`) so that they are delivered), or give --discard-votes 2 "
        "to drop them" % (kiosk.serial.path, kiosk.serial.path))
    wrong = borne(*cmd, "--discard-votes", "1")
    assert wrong.returncode == 2 and "--discard-votes 2 to drop them (not 1)" in wrong.stderr
    assert ask(kiosk, "journal")["pending"] == 2
    out = borne(*cmd, "--discard-votes", "2")
    assert out.returncode == 0, out.stderr
    assert "discarding 2 vote(s) never delivered, as confirmed" in out.stdout
    assert "wiped: no identity, broker, CA or config; 2 vote(s) discarded; next seq 3" \
        in out.stdout
    assert "kiosk k0001 stays registered: `borne kiosk decommission k0001` revokes it" \
        in out.stdout
    cfg = ask(kiosk, "show config")
    assert cfg["device"] is None and cfg["broker"] is None
    # Provisioned again, it is a new kiosk whose seqs go on: none is given twice.
    provision(kiosk, server)
    assert press(kiosk, 1) == [3]
    assert wait_votes(server, 1) == [("k0002", 3)]


def test_decommission_delivers_revokes_and_wipes(server, kiosk):
    provision(kiosk, server, broker=nowhere())
    press(kiosk, 2)  # pending: the broker is nowhere
    out = borne("provision", "--port", kiosk.serial.path, "--keep-identity", "--broker",
                server["broker"], "--lab-plain-tcp", "--wait-online", "0")
    assert out.returncode == 0, out.stderr
    out = borne("kiosk", "decommission", "k0001", "--port", kiosk.serial.path,
                "--db", server["db"], "--wait", "40")
    assert out.returncode == 0, out.stderr
    assert stored_votes(server) == [("k0001", 1), ("k0001", 2)]  # handed over first
    assert "kiosk k0001 revoked (its 2 stored vote(s) stay counted)" in out.stdout
    assert "0 vote(s) discarded" in out.stdout
    assert kiosks(server["db"]) == {"k0001": True}
    assert ask(kiosk, "show config")["device"] is None
    lost = borne("kiosk", "decommission", "k0001", "--db", server["db"])
    assert lost.returncode == 0 and "kiosk k0001 was already revoked" in lost.stdout


def test_recover_a_revoked_kiosk_that_holds_votes(server, kiosk):
    provision(kiosk, server)
    kiosk.set_net(False)
    poll(lambda: ask(kiosk, "status")["mqtt"] == "down" or None, 20, "the kiosk offline")
    press(kiosk, 2)
    revoke = borne("kiosk", "revoke", "k0001", "--db", server["db"])
    assert revoke.returncode == 0, revoke.stderr
    kiosk.set_net(True)
    time.sleep(3)
    assert ask(kiosk, "journal")["pending"] == 2  # refused by the broker: kept
    keep = borne("provision", "--port", kiosk.serial.path, "--keep-identity", "--db",
                 server["db"], "--wifi", "Mairie", "--wifi-pass", "pw")
    assert keep.returncode == 2
    assert "kiosk k0001 is revoked: re-enable it with `borne kiosk recover k0001" in keep.stderr
    out = borne("kiosk", "recover", "k0001", "--port", kiosk.serial.path, "--db", server["db"],
                "--wait-online", "40")
    assert out.returncode == 0, out.stderr
    assert "kiosk k0001 re-enabled with a new secret" in out.stdout
    assert "it holds 2 vote(s) to deliver" in out.stdout
    assert "journal: 0 vote(s) still to deliver" in out.stdout
    assert wait_votes(server, 2) == [("k0001", 1), ("k0001", 2)]
    assert kiosks(server["db"]) == {"k0001": False}
    again = borne("kiosk", "recover", "k0001", "--port", kiosk.serial.path, "--db",
                  server["db"])
    assert again.returncode == 2 and "kiosk k0001 is not revoked" in again.stderr


def test_an_id_online_on_one_device_is_refused_to_another(server, kiosk, second_kiosk):
    conn = connect(server["db"])
    dev, secret = registry.add_kiosk(conn, SITE, "hall-1")
    conn.close()
    given = ("--device-id", dev, "--secret=" + secret)
    provision(kiosk, server, *given)
    press(kiosk, 2)
    wait_votes(server, 2)
    out = borne("provision", "--port", second_kiosk.serial.path, "--site", SITE, "--db",
                server["db"], "--broker", server["broker"], "--lab-plain-tcp", *given)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "borne: error: kiosk hall-1 is online on another device: one id on two devices "
        "knocks both off the broker. Provision this device as a new kiosk, or replace the "
        "other with `borne kiosk replace hall-1 --port %s`" % second_kiosk.serial.path)
    assert ask(second_kiosk, "show config")["device"] is None
    assert ask(kiosk, "status")["mqtt"] == "up"  # the first keeps its session
    # Offline, its seqs still clash: the second device's votes would be duplicates.
    kiosk.power_cut()
    poll(lambda: state(server, dev) == "offline" or None, 30, "the first kiosk offline")
    out = borne("provision", "--port", second_kiosk.serial.path, "--site", SITE, "--db",
                server["db"], "--broker", server["broker"], "--lab-plain-tcp", *given)
    assert out.returncode == 2
    assert ("the server holds votes of kiosk hall-1 up to seq 2 and this device's next seq "
            "is 1") in out.stderr


def test_reprovisioning_never_sends_a_vote_under_two_ids(server, kiosk):
    """Votes acked, the kiosk restarted (the acked position must survive), then
    provisioned as another kiosk: each vote is stored once, under its first id."""
    provision(kiosk, server)
    press(kiosk, 3)
    assert wait_votes(server, 3) == [("k0001", 1), ("k0001", 2), ("k0001", 3)]
    poll(lambda: ask(kiosk, "journal")["pending"] == 0 or None, 20, "the acks")
    with KioskConsole(kiosk.serial.path) as con:
        prov.restart(con, 20, lambda line: None)
        assert con.command("journal")["pending"] == 0
    out = provision(kiosk, server)
    assert "kiosk k0001 revoked: this device is now kiosk k0002" in out.stdout
    press(kiosk, 1)
    assert wait_votes(server, 4) == [("k0001", 1), ("k0001", 2), ("k0001", 3), ("k0002", 4)]
    time.sleep(2)
    assert len(stored_votes(server)) == 4


class CutConsole(KioskConsole):
    """A console whose cable is pulled before its `cut_at`-th command."""

    def __init__(self, port, cut_at):
        super().__init__(port, timeout=3)
        self.sent = 0
        self.cut_at = cut_at

    def command(self, line, timeout=None):
        self.sent += 1
        if self.sent >= self.cut_at > 0:
            raise CliError("serial port %s stopped working: cable pulled" % self.port)
        return super().command(line, timeout)


def test_a_provisioning_cut_at_any_command_leaves_the_kiosk_as_it_was(server, tls_kiosk,
                                                                       tmp_path):
    kiosk = tls_kiosk
    provision(kiosk, server, "--wifi", "Ancien", "--wifi-pass", "pw", broker=nowhere())
    press(kiosk, 1)
    before = ask(kiosk, "show config")
    ca = tmp_path / "tls"
    from sync_server.broker import tls
    tls.init(ca, ["broker.test"])
    args = argparse.Namespace(
        site=None, db=str(server["db"]), keep_identity=True, device_id=None, secret=None,
        broker="mqtts://broker.test:8883", ca=str(ca / "ca.crt"), lab_plain_tcp=False,
        wifi="Nouveau", wifi_pass="pw2", wait_online=0)
    prov.check_args(args)
    # version, show config, begin, set ca, set broker, set wifi, show staged, commit
    for cut_at in range(1, 9):
        con = CutConsole(kiosk.serial.path, cut_at)
        try:
            with pytest.raises(CliError, match="cable pulled"):
                prov.provision(con, args, out=lambda line: None)
        finally:
            con.close()
        assert ask(kiosk, "show config") == before, cut_at
        assert ask(kiosk, "journal")["pending"] == 1
    con = CutConsole(kiosk.serial.path, 0)
    try:
        prov.provision(con, args, out=lambda line: None)
    finally:
        con.close()
    assert con.sent > 8
    shown = ask(kiosk, "show config")
    assert shown["wifi_ssid"] == "Nouveau" and shown["device"] == before["device"]
    assert shown["broker"] == "mqtts://broker.test:8883" and shown["ca"]
    assert ask(kiosk, "journal")["pending"] == 1


class CommitTrouble(KioskConsole):
    """`commit` refused by the kiosk (as on a flash error), or sent and then
    no answer (the cable pulled at that very moment)."""

    def __init__(self, port, sent):
        super().__init__(port, timeout=3)
        self.sent = sent

    def command(self, line, timeout=None):
        if line != "commit":
            return super().command(line, timeout)
        if not self.sent:
            from sync_server.devices.console import ConsoleError
            raise ConsoleError("commit", "state", "flash error")
        self.ser.write(b"commit\n")
        self.ser.flush()
        raise CliError("serial port %s stopped working: cable pulled" % self.port)


def commit_trouble(kiosk, args, sent):
    """The CliError of a provisioning whose `commit` is refused (sent=False)
    or sent and never answered (sent=True)."""
    con = CommitTrouble(kiosk.serial.path, sent=sent)
    try:
        with pytest.raises(CliError) as error:
            prov.provision(con, args, out=lambda line: None)
    finally:
        con.close()
    return error.value


def test_a_refused_or_unanswered_commit(server, kiosk):
    args = argparse.Namespace(
        site=SITE, db=str(server["db"]), keep_identity=False, device_id=None, secret=None,
        broker=nowhere(), ca=None, lab_plain_tcp=True, wifi=None, wifi_pass=None,
        wait_online=0)
    prov.check_args(args)
    refused = commit_trouble(kiosk, args, sent=False)
    assert str(refused).endswith("the kiosk on %s is unchanged and kiosk k0001 "
                                       "unregistered" % kiosk.serial.path)
    assert kiosks(server["db"]) == {}
    assert ask(kiosk, "show config")["device"] is None
    cut = commit_trouble(kiosk, args, sent=True)
    secret = str(cut).split("--secret=")[1]
    assert str(cut).endswith(
        "Kiosk k0001 is registered: rerun with --device-id k0001 --secret=" + secret)
    assert kiosks(server["db"]) == {"k0001": False}
    poll(lambda: ask(kiosk, "show config")["device"] == "k0001" or None, 10, "the commit")
    out = borne("provision", "--port", kiosk.serial.path, "--site", SITE, "--broker",
                server["broker"], "--lab-plain-tcp", "--device-id", "k0001",
                "--secret=" + secret, "--db", server["db"], "--wait-online", "20")
    assert out.returncode == 0, out.stderr
    assert "mqtt up" in out.stdout


@pytest.mark.parametrize("extra, message", [
    (("--site", SITE, "--wifi", "W", "--wifi-pass", "p"),
     "--keep-identity keeps the kiosk's id, secret and site: do not give --site"),
    ((), "--keep-identity changes --wifi/--wifi-pass, --broker, --ca or --fw-key: give at "
         "least one"),
])
def test_keep_identity_options(tmp_path, extra, message):
    out = borne("provision", "--port", tmp_path / "ttyUSB0", "--keep-identity", *extra)
    assert out.returncode == 2
    assert out.stderr.strip() == "borne: error: " + message


def test_decommission_a_lost_kiosk_revokes_it(tmp_path):
    db = tmp_path / "borne.db"
    conn = connect(db)
    registry.add_site(conn, SITE, "Mairie")
    registry.add_kiosk(conn, SITE, "hall-1")
    conn.close()
    out = borne("kiosk", "decommission", "hall-1", "--db", db)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "kiosk hall-1 revoked (its 0 stored vote(s) stay counted)",
        "(no Mosquitto configured: the embedded broker of `borne serve` applies it)",
        "the device itself was not wiped; if it turns up holding votes, `borne kiosk recover "
        "hall-1 --port PORT` brings them in"]
    assert kiosks(db) == {"hall-1": True}
    unknown = borne("kiosk", "decommission", "hall-9", "--db", db)
    assert unknown.returncode == 2 and unknown.stderr.strip() == (
        "borne: error: unknown kiosk 'hall-9'")
    missing = borne("kiosk", "decommission", "hall-1", "--db", tmp_path / "none.db")
    assert missing.returncode == 2 and "none.db not found" in missing.stderr
    assert not (tmp_path / "none.db").exists()
