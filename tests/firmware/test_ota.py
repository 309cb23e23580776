"""Updates over the air, end to end: the real firmware under the MicroPython
unix port, a real Mosquitto with the generated access rules, and the real
`borne serve` with SQLite serving a release signed by `borne firmware
publish` and offered by `borne firmware rollout`. The kiosk downloads it in
chunks, checks it, installs it into a slot and restarts on it; votes pressed
during the update are stored exactly once. A release that crashes at start
is rolled back by the kiosk itself and stops the rollout; a wrong signature
is refused; an outage of the broker mid-download is resumed."""
import json
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from sync_server.devices import release
from tests import realparts
from tests import server_support as ss
from tests.firmware.test_firmware_sync import Rig as SyncRig
from tests.realparts import poll

pytestmark = pytest.mark.timeout(240)

# The update's code and its messages come on top of the kiosk's own heap
# (firmware/README.md, "Updates over the air": what they cost).
HEAP = os.getenv("BORNE_OTA_HEAP", "160k")


def borne(*args):
    r = subprocess.run([ss.BORNE, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def source_tree(root, version, kiosk_app_prefix=""):
    src = root / ("src-" + version)
    for folder in ("firmware", "protocol"):
        shutil.copytree(os.path.join(realparts.ROOT, folder), src / folder,
                        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "*.md"))
    (src / "firmware" / "version.py").write_text('FW = "%s"\n' % version)
    if kiosk_app_prefix:
        app = src / "firmware" / "kiosk_app.py"
        app.write_text(kiosk_app_prefix + app.read_text())
    return src


@pytest.fixture(scope="module")
def releases(tmp_path_factory, mpy_cross):
    """A signing key, another key, and releases: 9.1.0 (good), 9.2.0 (raises
    at import), 9.3.0 (good, signed with the other key)."""
    d = tmp_path_factory.mktemp("ota")
    borne("firmware", "key", "--out", d / "sign.key")
    borne("firmware", "key", "--out", d / "other.key")
    out = {"key": (d / "sign.key.pub").read_text().strip(), "dir": d}
    for version, prefix, key in (("9.1.0", "", "sign.key"),
                                 ("9.2.0", 'raise RuntimeError("broken release")\n', "sign.key"),
                                 ("9.3.0", "", "other.key")):
        src = source_tree(d, version, prefix)
        borne("firmware", "build", "--src", src, "--out", d / ("build-" + version))
        borne("firmware", "publish", "--dir", d / ("build-" + version), "--key", d / key,
              "--out", d / ("rel-" + version))
        out[version] = str(d / ("rel-" + version))
    return out


class Rig(SyncRig):
    """The sync tests' rig (Mosquitto with the generated rules, `borne
    serve`, the firmware) with the update's heap and commands."""

    def __init__(self, micropython, tmp_path, kiosks=1, heap=HEAP):
        super().__init__(micropython, tmp_path, kiosks, heap=heap)

    def query(self, sql, *args):
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def update_state(self):
        rows = self.query("SELECT state, fw, release_id, got, size, error FROM "
                          "fw_kiosk_updates WHERE device_id = ?", self.dev)
        return rows[0] if rows else None

    def rollout(self, rel, *extra):
        return borne("firmware", "rollout", "--db", self.db, "--release", rel,
                     "--kiosks", self.dev, *extra)

    def boot(self, key):
        self.fw.start()
        self.fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
        assert self.fw.ask("set fwkey " + key) == {"fwkey": key}
        assert self.fw.ask("show config")["fwkey"] == key


@pytest.fixture
def rig(micropython, tmp_path):
    r = Rig(micropython, tmp_path)
    yield r
    r.close()


def press_while(fw, until, seqs, timeout=120):
    """Press a button every 0.3 s until `until()` or the kiosk restarts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until():
            return True
        r = fw.ask("press 1")
        if r is None:
            return False  # the process ended: the kiosk restarted
        assert "seq" in r, r
        seqs.append(r["seq"])
        time.sleep(0.3)
    raise TimeoutError("logs: %s" % fw.logs[:40])


def test_update_installs_reboots_and_keeps_every_vote(rig, releases):
    rig.boot(releases["key"])
    seqs = [rig.fw.ask("press 0")["seq"] for _ in range(3)]
    out = rig.rollout(releases["9.1.0"])
    assert "offered to 1 kiosk" in out
    # Votes go on while it downloads; the kiosk restarts once installed.
    assert not press_while(rig.fw, lambda: False, seqs)
    assert rig.fw.wait_exit() == 0
    assert any("installed in /fwa" in line for line in rig.fw.logs), rig.fw.logs[-5:]
    rig.fw.start()
    assert rig.fw.ask("version")["fw"] == "9.1.0"
    poll(lambda: (rig.update_state() or ("",))[0] == "ok", timeout=30)
    state, fw, rid, got, size, error = rig.update_state()
    assert fw == "9.1.0" and rid == release.load(releases["9.1.0"]).id and error is None
    seqs += [rig.fw.ask("press 2")["seq"] for _ in range(3)]
    rig.fw.wait_status(lambda s: s["journal"] == 0, timeout=30)
    assert seqs == list(range(1, len(seqs) + 1))
    assert rig.stored() == seqs  # each vote once, none lost
    st = json.loads(borne("firmware", "status", "--db", rig.db, "--json"))
    assert st["kiosks"][0]["fw"] == "9.1.0" and st["kiosks"][0]["state"] == "ok"
    assert st["rollouts"][0]["done"] == 1 and st["rollouts"][0]["state"] == "active"
    # A later boot runs the slot without counting a trial any more.
    rig.fw.stop()
    rig.fw.start()
    assert rig.fw.ask("version")["fw"] == "9.1.0"
    assert "boots" not in json.loads(rig.fw.read_file("boot.json"))


def test_release_crashing_at_start_is_rolled_back_and_stops_the_rollout(rig, releases):
    rig.boot(releases["key"])
    rig.rollout(releases["9.2.0"], "--boots", "2", "--max-failed", "0.5")
    assert rig.fw.wait_exit(timeout=120) == 0  # installed: restart
    starts = 0
    while True:  # each start fails at import; the launcher resets the board
        rig.fw.start()
        r = rig.fw.ask("version", timeout=30)
        if r is not None:
            break
        starts += 1
        assert any("broken release" in line for line in rig.fw.logs), rig.fw.logs[-5:]
        assert starts <= 3
    assert starts == 2  # its two boots, then the previous firmware again
    assert r["fw"] != "9.2.0"
    poll(lambda: (rig.update_state() or ("",))[0] == "rolled_back", timeout=30)
    assert "2 boots" in rig.update_state()[5]
    st = json.loads(borne("firmware", "status", "--db", rig.db, "--json"))
    assert st["rollouts"][0]["state"] == "stopped"
    assert "1 of 1 kiosks failed" in st["rollouts"][0]["reason"]
    # The offer is withdrawn (empty retained message): nothing is fetched again.
    assert rig.fw.ask("press 0")["seq"] == 1
    rig.fw.wait_status(lambda s: s["journal"] == 0, timeout=30)
    assert rig.stored() == [1]


def test_no_key_then_wrong_signature_are_refused(rig, releases):
    rig.fw.start()
    rig.fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
    rig.rollout(releases["9.3.0"])  # signed with a key the kiosk does not trust
    poll(lambda: (rig.update_state() or ("",))[0] == "refused", timeout=60)
    assert "no fwkey pinned" in rig.update_state()[5]
    assert rig.fw.ask("set fwkey " + releases["key"]) == {"fwkey": releases["key"]}
    assert rig.fw.ask("show config")["fwkey"] == releases["key"]
    rig.fw.stop()
    rig.fw.start()  # the retained offer comes again
    poll(lambda: "signature" in (rig.update_state()[5] or ""), timeout=60)
    assert rig.update_state()[0] == "refused"
    assert rig.fw.ask("version")["fw"] != "9.3.0"
    assert rig.fw.proc.poll() is None  # still running the old firmware
    assert rig.query("SELECT count(*) FROM fw_kiosk_updates WHERE got > 0") == [(0,)]


def test_new_firmware_that_never_hears_from_the_server_rolls_back(rig, releases):
    rig.boot(releases["key"])
    rig.rollout(releases["9.1.0"], "--trial-s", "10")
    assert rig.fw.wait_exit(timeout=120) == 0  # installed: restart
    rig.broker.stop(kill=True)
    rig.fw.start()
    assert rig.fw.ask("version")["fw"] == "9.1.0"
    assert rig.fw.wait_exit(timeout=60) == 0  # gave up: back to the previous one
    assert any("no word from the server within 10 s" in line for line in rig.fw.logs)
    rig.fw.start()
    assert rig.fw.ask("version")["fw"] != "9.1.0"
    rig.broker.start()
    poll(lambda: (rig.update_state() or ("",))[0] == "rolled_back", timeout=60)
    assert "within 10 s" in rig.update_state()[5]


def test_broker_outage_mid_download_resumes(rig, releases):
    rig.boot(releases["key"])
    rig.rollout(releases["9.1.0"])
    poll(lambda: (rig.update_state() or ("", "", "", 0))[3] > 0, timeout=60)
    rig.broker.stop(kill=True)
    rig.fw.wait_status(lambda s: s["mqtt"] == "down", timeout=30)
    got = rig.fw.ask("status")
    assert got is not None
    rig.broker.start()
    assert rig.fw.wait_exit(timeout=120) == 0  # installed after the outage
    assert any("from byte 0" in line for line in rig.fw.logs)
    resumed = [line for line in rig.fw.logs if "from byte" in line and "from byte 0" not in line]
    assert len(resumed) <= 1
    rig.fw.start()
    assert rig.fw.ask("version")["fw"] == "9.1.0"


@pytest.mark.parametrize("heap", ["104k", "124k"])  # dropped at reading; set aside later
def test_an_update_too_big_for_the_heap_is_set_aside_and_votes_keep_flowing(
        micropython, tmp_path, releases, heap):
    """In a heap where the kiosk works but its update does not fit, the offer
    is dropped as it arrives (or the updater set aside if it fails later):
    the session stays up and every vote is delivered once, on the firmware
    the kiosk runs."""
    rig = Rig(micropython, tmp_path, heap=heap)
    try:
        rig.boot(releases["key"])
        rig.rollout(releases["9.1.0"])
        poll(lambda: any("beyond the free heap" in line or "update set aside" in line
                         for line in rig.fw.logs), timeout=60, what="the offer dropped")
        seqs = [rig.fw.ask("press 1")["seq"] for _ in range(5)]
        rig.fw.wait_status(lambda s: s["journal"] == 0 and s["mqtt"] == "up", timeout=30)
        assert rig.stored() == seqs == [1, 2, 3, 4, 5]
        assert rig.fw.ask("version")["fw"] != "9.1.0"
        assert rig.fw.proc.poll() is None
        assert not [line for line in rig.fw.logs if "MemoryError" in line], rig.fw.logs[-10:]
    finally:
        rig.close()
