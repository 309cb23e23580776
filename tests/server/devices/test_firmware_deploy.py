"""`borne firmware build` (mpy-cross, manifest) and `borne firmware deploy`
(mpremote over the raw REPL) onto a simulated kiosk: the real firmware under
MicroPython, its flash a LittleFS image, its USB serial a pseudo-terminal.
The journal survives the update, pending votes are still delivered, seq goes
on, and the new version shows on the console and in telemetry."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from sync_server.devices.firmware import compiled, firmware_version, load_build
from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts
from tests.realparts import poll
from tests.server_support import BORNE, Server, api_get, api_headers

SITE = "mediatheque"


def borne(*args, timeout=120):
    return subprocess.run([BORNE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)




def source_tree(tmp_path, version):
    """A copy of firmware/ and protocol/ whose version.py says `version`."""
    src = tmp_path / ("src-" + version)
    for folder in ("firmware", "protocol"):
        shutil.copytree(os.path.join(realparts.ROOT, folder), src / folder,
                        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    (src / "firmware" / "version.py").write_text(
        '# Firmware version, reported in status, telemetry and on the console.\n'
        'FW = "%s"\n' % version)
    return src


def test_build_compiles_every_file_with_a_manifest(tmp_path, micropython, mpy_cross):
    out = tmp_path / "build"
    r = borne("firmware", "build", "--out", out)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    fw_dir = os.path.join(realparts.ROOT, "firmware")
    expected = {n[:-3] + ".mpy" for n in os.listdir(fw_dir) if n.endswith(".py")}
    expected = (expected - {"main.mpy"}) | {"main.py", "kiosk_wire.mpy", "ota_wire.mpy"}
    assert set(manifest["files"]) == expected
    assert sorted(os.listdir(out)) == sorted(expected | {"manifest.json"})
    assert manifest["fw"] == firmware_version(realparts.ROOT)
    version = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True)
    assert manifest["mpy_cross"] == version.stdout.strip()
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["size"] == len(data)
        if name.endswith(".mpy"):
            assert data[:1] == b"M", name  # MicroPython's compiled-module header
    assert (out / "main.py").read_bytes() == open(os.path.join(fw_dir, "main.py"), "rb").read()
    # The compiled wire code loads and works in the real MicroPython.
    probe = ("import sys; sys.path[:] = [%r]; import kiosk_wire as w; "
             "print(w.VERSION, w.valid_device_id('k0001'), w.valid_device_id('a b'))" % str(out))
    run = subprocess.run([micropython, "-c", probe], capture_output=True, text=True, timeout=30)
    assert run.stdout.split() == ["1", "True", "False"], run.stderr
    # A rebuild into the same folder leaves only the new build.
    (out / "stale.mpy").write_bytes(b"M\x06old")
    assert borne("firmware", "build", "--out", out).returncode == 0
    assert not (out / "stale.mpy").exists()


def test_the_simulators_build_is_the_boards_and_follows_the_sources(tmp_path, mpy_cross):
    # The simulator runs compiled(): `borne firmware build`'s files, plus the
    # simulated board's modules, rebuilt when a source changes.
    src = tmp_path / "src"
    shutil.copytree(os.path.join(realparts.ROOT, "firmware"), src / "firmware")
    os.makedirs(src / "protocol")
    for name in ("kiosk_wire.py", "ota_wire.py"):
        shutil.copy(os.path.join(realparts.ROOT, "protocol", name), src / "protocol")
    cache = tmp_path / "cache"
    first = compiled(str(src), str(cache))
    assert compiled(str(src), str(cache)) == first  # cached
    fw, files = load_build(first)
    assert fw == firmware_version(str(src)) and "kiosk_app.mpy" in files
    sim = sorted(os.listdir(os.path.join(first, "sim")))
    assert "simboard.mpy" in sim and "kiosk.mpy" not in sim
    with open(src / "firmware" / "clock.py", "a") as f:
        f.write("\n# changed\n")
    second = compiled(str(src), str(cache))
    assert second != first and os.path.isdir(first)
    assert sorted(os.listdir(cache)) == sorted([os.path.basename(first),
                                                os.path.basename(second)])


def test_deploy_refuses_a_build_that_does_not_match_its_manifest(tmp_path):
    out = tmp_path / "build"
    assert borne("firmware", "build", "--out", out).returncode == 0
    with open(out / "journal.mpy", "ab") as f:
        f.write(b"\0")
    r = borne("firmware", "deploy", "--port", tmp_path / "ttyACM0", "--dir", out)
    assert r.returncode == 2
    assert r.stderr.strip() == ("borne: error: %s does not match its manifest (missing or "
                                "changed): rebuild" % (out / "journal.mpy"))
    r = borne("firmware", "deploy", "--port", "/dev/ttyACM0", "--dir", tmp_path / "none")
    assert r.returncode == 2
    assert "has no manifest.json: make it with `borne firmware build" in r.stderr


def test_deploy_port_missing_and_no_raw_repl(tmp_path):
    out = tmp_path / "build"
    assert borne("firmware", "build", "--out", out).returncode == 0
    r = borne("firmware", "deploy", "--port", tmp_path / "ttyACM0", "--dir", out)
    assert r.returncode == 2
    assert "serial port %s not found" % (tmp_path / "ttyACM0") in r.stderr
    with realparts.silent_port() as port:
        r = borne("firmware", "deploy", "--port", port, "--dir", out, "--timeout", "1")
        assert r.returncode == 2
        assert r.stderr.strip() == (
            "borne: error: the kiosk on %s did not enter MicroPython's raw REPL within 1s: is "
            "it powered and running MicroPython?" % port)


@pytest.fixture
def stack(tmp_path):
    """A server with its embedded broker, a registered kiosk running the
    firmware of this tree in the simulator, connected."""
    realparts.need_binary("micropython")
    from simulator.kiosk import Kiosk
    db = tmp_path / "borne.db"
    conn = connect(db)
    registry.add_site(conn, SITE, "Médiathèque", buttons=4)
    registry.set_site(conn, SITE, lockout_s=0)
    dev, secret = registry.add_kiosk(conn, SITE, "media-1")
    conn.close()
    mqtt_port = realparts.free_port()
    srv = Server(db, "--http", "127.0.0.1:0", "--broker-port", str(mqtt_port)).start()
    events = []
    k = Kiosk(1, str(tmp_path / "kiosk"), {"device": dev, "pass": secret, "site": SITE,
                                           "broker": "mqtt://127.0.0.1:%d" % mqtt_port},
              events.append)
    k.events = events
    k.power_on()
    try:
        try:
            poll(lambda: k.state.get("mqtt") == "up", 30, "the kiosk online")
        except AssertionError:
            log = open(tmp_path / "kiosk" / "console.log", "rb").read()[-1500:]
            raise AssertionError("the kiosk did not come online; its console: %r" % log) from None
        from sync_server.devices.console import KioskConsole
        with KioskConsole(k.serial.path) as con:  # the site's config: no press lockout
            poll(lambda: con.command("show config")["lockout_s"] == 0, 20, "the site's config")
        yield {"kiosk": k, "http": srv.url("http"), "device": dev,
               "api_headers": api_headers(db)}
    finally:
        k.close()
        srv.stop()


def api(stack, path):
    status, body = api_get(stack["http"] + path, stack["api_headers"])
    assert status == 200, body
    return body


def votes_n(stack, dev, n):
    def votes():
        body = api(stack, "/api/v1/sites/%s/votes?limit=100" % SITE)
        got = sorted((v["seq"], v["level"]) for v in body["votes"] if v["device_id"] == dev)
        return got if len(got) == n else None
    return votes


def test_deploy_keeps_the_journal_and_votes_go_on(stack, tmp_path):
    k = stack["kiosk"]
    dev = stack["device"]
    # Votes wait in the journal (network down) while the firmware is replaced.
    k.set_net(False)
    poll(lambda: k.state.get("mqtt") == "down", 15, "the kiosk offline")
    for level in (3, 0, 2):
        assert k.press(level)
    poll(lambda: k.state.get("journal") == 3, 15, "three votes in the journal")
    build = tmp_path / "build"
    r = borne("firmware", "build", "--src", source_tree(tmp_path, "1.9.0"), "--out", build)
    assert r.returncode == 0, r.stderr

    r = borne("firmware", "deploy", "--port", k.serial.path, "--dir", build)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "copying firmware 1.9.0 to %s with mpremote" % k.serial.path in r.stdout
    assert "journal and settings untouched" in r.stdout
    assert r.stdout.strip().endswith("kiosk on %s restarted with firmware 1.9.0" % k.serial.path)
    hello = [e for e in k.events if e["ev"] == "hello"]
    assert hello[-1]["fw"] == "1.9.0" and hello[-1]["journal"] == 3
    assert hello[-1]["boot"] == hello[0]["boot"] + 1  # a soft reset, not a wiped flash

    # Back online: the votes pressed under the old firmware arrive, seq goes on.
    k.set_net(True)
    assert k.press(1)

    assert poll(votes_n(stack, dev, 4), 30, "four votes in the API") == [
        (1, 3), (2, 0), (3, 2), (4, 1)]

    def fw():
        rows = api(stack, "/api/v1/kiosks")["kiosks"]
        return [r["fw"] for r in rows if r["id"] == dev] == ["1.9.0"]
    poll(fw, 30, "firmware 1.9.0 in the kiosk's telemetry")

    # The official mpremote command line sees the kiosk's flash as a board's:
    # firmware files, no leftovers, the journal beside them.
    mpremote = realparts.need_binary("mpremote")
    ls = subprocess.run([mpremote, "connect", k.serial.path, "exec",
                         "import os; print(sorted(os.listdir()))"],
                        capture_output=True, text=True, timeout=60)
    assert ls.returncode == 0, ls.stderr
    names = json.loads(ls.stdout.strip().replace("'", '"'))
    build_files = sorted(json.loads((build / "manifest.json").read_text())["files"])
    assert sorted(set(names) - {"j", "jstate0", "jstate1", "prov.json", "cfg.json"}) == build_files
    assert "j" in names and "prov.json" in names

    # Deploying the same build again copies nothing and changes nothing; it
    # starts from the prompt mpremote left, as on a board.
    r = borne("firmware", "deploy", "--port", k.serial.path, "--dir", build)
    assert r.returncode == 0, r.stderr
    assert ".mpy (" not in r.stdout
    assert "restarted with firmware 1.9.0" in r.stdout

    # Without --dir, the firmware of this tree is built and deployed (here a
    # downgrade); the journal still holds what the server has not acked.
    r = borne("firmware", "deploy", "--port", k.serial.path)
    assert r.returncode == 0, r.stderr
    tree = firmware_version(realparts.ROOT)
    assert r.stdout.strip().endswith("restarted with firmware %s" % tree)
    assert k.press(0)
    assert poll(votes_n(stack, dev, 5), 30, "the fifth vote")[-1] == (5, 0)


def test_power_cut_during_deploy_keeps_the_old_firmware_and_the_journal(stack, tmp_path):
    """Files are written under temporary names and renamed only once all are
    on the flash: a power cut while copying leaves the old firmware running
    and every vote in the journal; the next deploy completes."""
    k = stack["kiosk"]
    k.set_net(False)
    poll(lambda: k.state.get("mqtt") == "down", 15, "the kiosk offline")
    for level in (1, 2):
        assert k.press(level)
    poll(lambda: k.state.get("journal") == 2, 15, "two votes in the journal")
    build = tmp_path / "build"
    assert borne("firmware", "build", "--src", source_tree(tmp_path, "1.9.1"),
                 "--out", build).returncode == 0
    proc = subprocess.Popen([BORNE, "firmware", "deploy", "--port", k.serial.path, "--dir",
                             build, "--timeout", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        copied = []
        for line in proc.stdout:
            if line.startswith("  "):
                copied.append(line)
                if len(copied) == 2:
                    k.power_cut()  # in the middle of the copy
                    break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(copied) == 2
    assert proc.returncode == 2
    assert err.startswith("borne: error: ") and "Traceback" not in err
    boots = sum(e["ev"] == "hello" for e in k.events)
    k.power_on()
    poll(lambda: sum(e["ev"] == "hello" for e in k.events) > boots, 20, "the kiosk back")
    hello = [e for e in k.events if e["ev"] == "hello"][-1]
    assert hello["fw"] == firmware_version(realparts.ROOT)  # the old firmware, whole
    assert hello["journal"] == 2
    r = borne("firmware", "deploy", "--port", k.serial.path, "--dir", build)
    assert r.returncode == 0, r.stderr
    assert [e for e in k.events if e["ev"] == "hello"][-1]["fw"] == "1.9.1"
    # What was copied before the cut is not copied again.
    for line in copied:
        name = line.split()[0]
        assert "  %s (copied by an interrupted deploy)" % name in r.stdout, r.stdout
    k.set_net(True)
    assert poll(votes_n(stack, stack["device"], 2), 30, "the two votes") == [(1, 1), (2, 2)]


def test_deploy_refuses_to_fill_the_flash_and_the_kiosk_runs_on(tmp_path):
    """The journal needs free flash for votes: an update that would leave
    too little is refused before any write, and the old firmware restarts."""
    realparts.need_binary("micropython")
    from simulator.kiosk import Kiosk
    events = []
    nowhere = "mqtt://127.0.0.1:%d" % realparts.free_port()
    k = Kiosk(1, str(tmp_path / "kiosk"), {"device": "small-1", "pass": "x", "site": SITE,
                                           "broker": nowhere, "flash_blocks": 24},
              events.append)
    k.power_on()
    try:
        poll(lambda: any(e["ev"] == "hello" for e in events), 20, "the firmware's hello")
        assert k.console("press 1")
        poll(lambda: k.state.get("journal") == 1, 15, "a vote in the journal")
        r = borne("firmware", "deploy", "--port", k.serial.path, "--timeout", "5")
        assert r.returncode == 2
        assert "borne: error: not enough free flash on the kiosk: " in r.stderr
        assert "KiB stay free for votes" in r.stderr
        poll(lambda: sum(e["ev"] == "hello" for e in events) == 2, 20, "the firmware back")
        hello = [e for e in events if e["ev"] == "hello"][-1]
        assert hello["fw"] == firmware_version(realparts.ROOT) and hello["journal"] == 1
        assert k.console("press 2")
        poll(lambda: k.state.get("journal") == 2, 15, "votes still stored")
    finally:
        k.close()
