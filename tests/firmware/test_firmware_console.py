"""The kiosk's serial console and the simulator's control lines, on the real
firmware under `micropython -X heapsize=96k` (see simulator/mpy/CONTROL.md)."""
import glob
import json
import os
import socket
import subprocess
import time

import pytest

from tests.firmware_support import Firmware
from tests.realparts import ROOT

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fw(micropython, tmp_path):
    f = Firmware(micropython, tmp_path / "flash.img")
    yield f
    f.stop()


def loaded(fw):
    """The modules the kiosk holds now (simulator/mpy/simlines.py)."""
    return set(fw.ask("sim heap")["modules"])


def test_simulator_board_sources_compile(mpy_cross, tmp_path):
    files = glob.glob(os.path.join(ROOT, "simulator", "mpy", "*.py"))
    assert files
    for f in files:
        out = subprocess.run([mpy_cross, "-o", str(tmp_path / "x.mpy"), f],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr


def test_the_simulator_runs_the_build_a_board_gets_or_the_source(micropython, tmp_path):
    # Firmware() runs the .mpy build (`borne firmware build`) unless told otherwise;
    # kiosk.py alone (no BORNE_FW_MPY) runs the source tree.
    for mpy, form in ((True, "mpy"), (False, "py")):
        f = Firmware(micropython, tmp_path / ("%s.img" % form), mpy=mpy)
        try:
            f.start()
            assert f.ask("press 0")["seq"] == 1
            assert f.ask("sim heap")["form"] == form
        finally:
            f.stop()


def test_provisioning_survives_reboot(fw):
    fw.start()
    assert fw.ask("version")["board"] == "sim"
    assert fw.ask("set device kiosk-12") == {"device": "kiosk-12"}
    assert fw.ask("set broker mqtt://10.0.0.5:1884") == {"broker": "mqtt://10.0.0.5:1884"}
    assert fw.ask("set secret s3cr3t") == {"secret_set": True}
    assert fw.ask("set wifi Mairie-Wifi hunter2") == {"wifi_ssid": "Mairie-Wifi"}
    assert fw.ask("set site mairie-nord") == {"site": "mairie-nord"}
    assert fw.ask("set buttons 3") == {"buttons": 3}
    # Those commands' code came for each line and went after it (firmware/console.py).
    mods = loaded(fw)
    assert {"console", "settings", "kiosk_app"} <= mods
    assert not mods & {"commands", "staging"}, mods
    assert fw.ask("reboot") == {}
    assert fw.wait_exit() == 0
    fw.start()
    cfg = fw.ask("show config")
    assert cfg["device"] == "kiosk-12" and cfg["broker"] == "mqtt://10.0.0.5:1884"
    assert cfg["secret_set"] is True and cfg["wifi_ssid"] == "Mairie-Wifi"
    assert cfg["site"] == "mairie-nord" and cfg["buttons"] == 3
    assert "s3cr3t" not in json.dumps(cfg) and "hunter2" not in json.dumps(cfg)
    st = fw.ask("status")
    assert st["boot"] == 2 and st["device"] == "kiosk-12"


def test_bad_commands_answer_err_and_keep_running(fw):
    fw.start()
    bad = ["frobnicate", "set", "set device", "set device bad/id", "set broker http://x",
           "set broker mqtt://h:99999", "set buttons 7", "set colour red", "show",
           "press", "press x", "press 9", "set wifi onlyssid"]
    for line in bad:
        ans = fw.ask(line)
        assert isinstance(ans, tuple) and ans[0] == "ERR", (line, ans)
        assert ans[1].split()[0] in ("usage", "unknown", "value", "state"), ans
    j = fw.ask("journal")
    assert j["pending"] == 0 and j["last"] == 0  # nothing bad became a vote
    assert fw.ask("press 1") == {"seq": 1}
    assert fw.ask("press 2") == {"suppressed": 1}  # inside the 5 s lockout
    j = fw.ask("journal")
    assert j["pending"] == 1 and j["last"] == 1


def test_votes_and_seq_survive_power_cut(fw):
    fw.start()
    assert fw.ask("press 0") == {"seq": 1}
    fw.kill()
    fw.start()
    st = fw.ask("status")
    assert st["boot"] == 2 and st["journal"] == 1
    assert fw.ask("press 3") == {"seq": 2}


def test_control_lines(micropython, tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(20)
    port = srv.getsockname()[1]
    fw = Firmware(micropython, tmp_path / "flash.img",
                  env={"BORNE_SIM_CTL": "127.0.0.1:%d" % port, "BORNE_DEVICE": "k7",
                       "BORNE_BROKER": "mqtt://127.0.0.1:1", "BORNE_BUTTONS": "2"}).start()
    try:
        conn, _ = srv.accept()
        conn.settimeout(20)
        rfile = conn.makefile("r")

        def next_ev(kind):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                ev = json.loads(rfile.readline())
                if ev["ev"] == kind:
                    return ev
            raise TimeoutError(kind)

        hello = next_ev("hello")
        assert hello["device"] == "k7" and hello["buttons"] == 2 and hello["boot"] == 1
        conn.sendall(b'{"cmd":"press","button":1}\n')
        assert next_ev("vote") == {"ev": "vote", "seq": 1, "level": 1, "flags": 1}
        conn.sendall(b'{"cmd":"press","button":0}\n')
        assert next_ev("suppressed")["count"] == 1
        conn.sendall(b'{"cmd":"dance"}\nnot json\n')
        assert "dance" in next_ev("error")["msg"]
        assert next_ev("error")["msg"] == "bad control line"
        conn.sendall(b'{"cmd":"net","up":false}\n')
        time.sleep(0.3)
        assert fw.ask("status")["net"] is False
        conn.close()
    finally:
        fw.stop()
        srv.close()


def test_staged_values_are_written_together_at_commit(fw):
    """begin, set..., show staged, commit: nothing reaches the flash before
    commit, so a console cut half-way leaves the kiosk as it was."""
    fw.start()
    assert fw.ask("set device kiosk-1") == {"device": "kiosk-1"}
    assert fw.ask("set broker mqtt://10.0.0.5:1884") == {"broker": "mqtt://10.0.0.5:1884"}
    assert fw.ask("begin") == {}
    assert fw.ask("set device kiosk-2") == {"device": "kiosk-2"}
    assert fw.ask("set site mairie-sud") == {"site": "mairie-sud"}
    staged = fw.ask("show staged")
    assert staged["device"] == "kiosk-2" and staged["site"] == "mairie-sud"
    # The staged values stay in RAM while staging.py's code is gone between lines.
    assert not loaded(fw) & {"commands", "staging"}
    assert fw.ask("show config")["device"] == "kiosk-1"
    fw.stop()  # the console (and the kiosk) cut before commit
    fw.start()
    cfg = fw.ask("show config")
    assert cfg["device"] == "kiosk-1" and cfg["broker"] == "mqtt://10.0.0.5:1884"
    assert fw.ask("show staged")[0] == "ERR"  # nothing staged after a restart
    assert fw.ask("commit")[0] == "ERR"
    assert fw.ask("begin") == {}
    assert fw.ask("set device kiosk-3") == {"device": "kiosk-3"}
    assert fw.ask("abort") == {}
    assert fw.ask("show config")["device"] == "kiosk-1"
    assert fw.ask("begin") == {}
    assert fw.ask("set device kiosk-3") == {"device": "kiosk-3"}
    assert fw.ask("commit")["device"] == "kiosk-3"
    fw.stop()
    fw.start()
    assert fw.ask("show config")["device"] == "kiosk-3"


@pytest.mark.parametrize("ssid, password", [
    ("Mairie Wifi", "pass with spaces"),
    (' "quoted" \\ back', "tab\there \u00e9t\u00e9 {json} 'single' ;$`"),
    ("x", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
])
def test_wifi_values_as_json_strings_keep_every_character(fw, ssid, password):
    fw.start()
    line = "set wifi %s %s" % (json.dumps(ssid), json.dumps(password))
    assert fw.ask(line) == {"wifi_ssid": ssid}
    assert fw.ask("show config")["wifi_ssid"] == ssid
    fw.stop()
    prov = json.loads(fw.read_file("prov.json"))
    assert prov["wifi_ssid"] == ssid and prov["wifi_pass"] == password


def test_wipe_needs_the_pending_count_and_keeps_seqs_going(fw):
    fw.start()
    assert fw.ask("set device kiosk-1") == {"device": "kiosk-1"}
    assert fw.ask("press 0") == {"seq": 1}
    time.sleep(5.1)  # the press lockout
    assert fw.ask("press 1") == {"seq": 2}
    assert fw.ask("wipe 0") == ("ERR", "state 2 vote(s) pending, not 0")
    assert fw.ask("wipe")[0] == "ERR"
    assert fw.ask("wipe 2") == {"discarded": 2}
    assert fw.wait_exit() == 0  # it restarts blank
    fw.start()
    cfg = fw.ask("show config")
    assert cfg["device"] is None and cfg["broker"] is None and cfg["ca"] is None
    assert fw.ask("journal")["pending"] == 0
    assert fw.ask("press 0") == {"seq": 3}  # a seq is never given twice
