"""The simulator's command line and headless command parser: bad input
gets one clear line, never a traceback."""
import subprocess

import pytest

from simulator import headless
from simulator.driver import BORNE
from simulator.fleet import Fleet


@pytest.mark.parametrize("line, expected", [
    ("press 2 3", ("press", ("2", 3))),
    ("  PRESS k0001 0  ", ("press", ("k0001", 0))),
    ("net 1 off", ("net", ("1", "off"))),
    ("net 1 ON", ("net", ("1", "on"))),
    ("power 3 cut", ("power", ("3", "cut"))),
    ("power 3 on", ("power", ("3", "on"))),
    ("reboot 1", ("reboot", ("1",))),
    ("console 1 set site mairie-centre", ("console", ("1", "set site mairie-centre"))),
    ("status", ("status", ())),
    ("battery 2 15", ("battery", ("2", 15))),
    ("signal 1 -85", ("signal", ("1", -85))),
    ("sleep 0.25", ("sleep", (0.25,))),
    ("exit", ("quit", ())),
    ("", (None, ())),
    ("# a comment", (None, ())),
])
def test_commands_parse(line, expected):
    assert headless.parse(line) == expected


@pytest.mark.parametrize("line, message", [
    ("press 1", "press takes 2 argument(s)"),
    ("press 1 happy", "LEVEL must be a number"),
    ("net 1 maybe", "net K on|off"),
    ("power 1 off", "power K on|cut"),
    ("jump 1", "unknown command 'jump'"),
    ("press 1 'open", "cannot read"),
    ("status now", "status takes 0 argument(s)"),
    ("battery 1 140", "battery: '140' is not a whole number from 0 to 100"),
    ("signal 1 strong", "signal: 'strong' is not a whole number from -120 to 0"),
])
def test_bad_commands_say_what_is_wrong(line, message):
    with pytest.raises(headless.CommandError) as e:
        headless.parse(line)
    assert message in str(e.value)


def test_commands_on_unknown_or_unpowered_kiosks_are_refused_not_fatal(tmp_path):
    events = []
    fleet = Fleet(tmp_path, events.append, micropython="/bin/true")
    kiosk = fleet.add({"device_id": "k1", "secret": "s"})
    try:
        assert headless.run_command(fleet, "press", ("9", 1))["ev"] == "refused"
        assert headless.run_command(fleet, "press", ("k1", 7))["msg"] == \
            "level 7: this kiosk has buttons 0..3"
        assert headless.run_command(fleet, "press", ("1", 2)) == \
            {"ev": "ignored", "kiosk": 1, "msg": "power off"}
        # The network switch and the battery are remembered while the kiosk is off.
        assert headless.run_command(fleet, "net", ("1", "off"))["up"] is False
        assert kiosk.state["net"] is False
        assert headless.run_command(fleet, "battery", ("1", 20)) is None
        assert kiosk.state["battery"] == {"pct": 20, "mv": 3480}
        assert headless.run_command(fleet, "status", ())["kiosks"][0]["pty"].startswith("/dev/")
    finally:
        fleet.close()


def test_random_levels_follow_the_weights():
    import random
    rng = random.Random(1)
    levels = [headless.random_level(3, rng) for _ in range(3000)]
    shares = [levels.count(i) / 3000 for i in range(3)]
    assert shares[2] > shares[1] > shares[0] > 0.05


def run_borne(*args, cwd=None, env=None):
    return subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env=env)


def test_sim_without_credentials_or_database_explains(tmp_path):
    out = run_borne("sim", "--headless", "--kiosks", "2", "--dir", str(tmp_path / "s"),
                    "--broker", "mqtt://127.0.0.1:1")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "borne: error: 0 kiosk(s) known in %s, 2 asked: give --db DB to register the "
        "others, or --credentials FILE with lines from `borne kiosk add --json`"
        % (tmp_path / "s")]


def test_sim_bad_credentials_file_names_the_line(tmp_path):
    creds = tmp_path / "creds.jsonl"
    creds.write_text('{"device_id": "k1", "secret": "x"}\nnot json\n')
    out = run_borne("sim", "--headless", "--credentials", str(creds), "--dir",
                    str(tmp_path / "s"))
    assert out.returncode == 2
    assert "creds.jsonl line 2: expected the JSON line of `borne kiosk add --json`" in out.stderr
    assert "Traceback" not in out.stderr


def test_sim_registers_in_an_unknown_database_site_with_a_clear_error(tmp_path):
    db = tmp_path / "b.db"
    out = run_borne("sim", "--headless", "--kiosks", "1", "--db", str(db), "--site", "Bad Id",
                    "--dir", str(tmp_path / "s"), "--broker", "mqtt://127.0.0.1:1")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "site id 'Bad Id'" in out.stderr


def test_window_without_a_display_says_to_use_headless(tmp_path):
    import os
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    creds = tmp_path / "creds.jsonl"
    creds.write_text('{"device_id": "k1", "secret": "x"}\n')
    out = run_borne("sim", "--credentials", str(creds), "--kiosks", "1", "--dir",
                    str(tmp_path / "s"), env=env)
    assert out.returncode == 2
    assert "use --headless" in out.stderr and "Traceback" not in out.stderr


def test_a_firmware_that_keeps_dying_is_restarted_then_left_off(tmp_path, monkeypatch):
    import threading

    from simulator import kiosk as kiosk_mod

    monkeypatch.setattr(kiosk_mod, "RESTART_PAUSE_S", 0.01)
    events, crashed = [], threading.Event()

    def emit(e):
        events.append(e)
        if e["ev"] == "crashed":
            crashed.set()
    fleet = Fleet(tmp_path, emit, micropython="/bin/false")
    k = fleet.add({"device_id": "k1", "secret": "s"})
    try:
        k.power_on()
        assert crashed.wait(20), events
        exits = [e for e in events if e["ev"] == "exit"]
        assert len(exits) == kiosk_mod.CRASH_LIMIT and exits[-1]["restart"] is False
        assert all(e["code"] == 1 for e in exits)
        assert k.snapshot()["power"] is False and k.snapshot()["pid"] is None
    finally:
        fleet.close()


def test_children_die_with_a_killed_simulator(tmp_path):
    """Firmware and server processes are started through procs.spawn: even a
    SIGKILLed simulator (no clean-up possible) leaves none of them running."""
    import os
    import sys
    import time

    code = ("import time\nfrom simulator.procs import spawn\n"
            "p = spawn(['sleep', '60'])\nprint(p.pid, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert os.path.exists("/proc/%d" % child)
    finally:
        parent.kill()
        parent.wait(10)

    def gone():
        try:
            with open("/proc/%d/stat" % child) as f:
                return f.read().split()[2] == "Z"  # dead, waiting for its reaper
        except OSError:
            return True
    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), "the child outlived its killed parent"


def test_ctrl_c_stops_the_headless_fleet(tmp_path):
    import os
    import signal

    from simulator.driver import HeadlessSim
    from tests import realparts

    realparts.need_binary("micropython")
    sim = HeadlessSim(["--kiosks", "0", "--unprovisioned", "2", "--dir", str(tmp_path)]).start()
    try:
        pids = [sim.wait(lambda e: e["ev"] == "power" and e["on"])["pid"] for _ in range(2)]
        sim.wait(lambda e: e["ev"] == "hello")
        sim.proc.send_signal(signal.SIGINT)
        assert sim.proc.wait(20) == 0
    finally:
        sim.close()
    offs = [e for e in sim.events if e["ev"] == "power" and not e["on"]]
    assert len(offs) == 2
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z"
