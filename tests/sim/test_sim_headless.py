"""`borne sim --headless` with the real firmware (MicroPython unix port), a
real Mosquitto configured by `borne broker-config`, and the real `borne
serve`: a press reaches the API; power cuts during presses lose no
confirmed vote; the serial console answers on its pseudo-terminal."""
import json
import random
import sqlite3
import subprocess
import time

import pytest

from simulator.driver import BORNE, HeadlessSim
from tests import realparts
from tests.realparts import poll
from tests.server_support import (
    Server,
    api_get,
    api_headers,
    consultation_rows,
    secured_mosquitto,
)

SITE = "sim-site"


def borne(*args):
    out = subprocess.run([BORNE, *map(str, args)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A site (no press lockout, so tests need not wait 5 s between presses)
    with three kiosks registered through `borne kiosk add --json`, the broker
    and the server."""
    realparts.need_binary("micropython")
    tmp = tmp_path_factory.mktemp("sim")
    db = tmp / "borne.db"
    borne("site", "add", SITE, "--name", "Mairie annexe", "--db", db)
    borne("site", "set", SITE, "--lockout-s", "0", "--db", db)
    creds = []
    for i in range(4):
        line = borne("kiosk", "add", "--site", SITE, "--id", "sim%d" % i, "--json", "--db", db)
        path = tmp / ("sim%d.jsonl" % i)
        path.write_text(line)
        creds.append(path)
    broker = secured_mosquitto(db)
    srv = Server(db, "--mqtt", "mqtt://127.0.0.1:%d" % broker.port,
                 "--http", "127.0.0.1:0").start()
    try:
        yield {"db": db, "creds": creds, "tmp": tmp, "broker": broker.url,
               "http": srv.url("http"), "auth": api_headers(db)}
    finally:
        srv.stop()
        broker.stop()


def sim_for(stack, n):
    return HeadlessSim(["--kiosks", "1", "--credentials", stack["creds"][n],
                        "--broker", stack["broker"], "--dir", stack["tmp"] / ("dir%d" % n)],
                       stderr_path=str(stack["tmp"] / ("sim%d.err" % n)))


def online(e):
    return e["ev"] == "state" and e.get("mqtt") == "up" and e.get("clock") != "unknown"


def api_votes(stack, device):
    url = "%s/api/v1/sites/%s/votes?limit=1000" % (stack["http"], SITE)
    status, body = api_get(url, stack["auth"])
    assert status == 200, body
    return {v["seq"]: v for v in body["votes"] if v["device_id"] == device}


def stored_seqs(stack, device):
    conn = sqlite3.connect(stack["db"], timeout=30)
    try:
        return dict(conn.execute("SELECT seq, level FROM votes WHERE device_id = ?", (device,)))
    finally:
        conn.close()


def console_tail(kiosk_dir):
    try:
        return (kiosk_dir / "console.log").read_bytes()[-800:].decode(errors="replace")
    except OSError as e:
        return str(e)




def test_press_reaches_api_and_network_cut_only_delays_it(stack):
    with sim_for(stack, 0) as sim:
        hello = sim.wait(lambda e: e["ev"] == "hello", what="hello")
        assert hello["device"] == "sim0" and hello["pty"].startswith("/dev/")
        sim.wait(online, what="connection and clock")
        sim.send("press 1 3")
        vote = sim.wait(lambda e: e["ev"] == "vote", what="thank-you")
        got = poll(lambda: api_votes(stack, "sim0").get(vote["seq"]), what="vote in the API")
        assert (got["level"], got["scale"]) == (3, 4)

        # Network cut: the vote waits in the journal, then goes through.
        sim.send("net 1 off")
        sim.wait(lambda e: e["ev"] == "state" and e.get("mqtt") == "down", what="mqtt down")
        mark = sim.mark()
        sim.send("press 1 0")
        offline_vote = sim.wait(lambda e: e["ev"] == "vote")
        sim.seen_or_wait(mark, lambda e: e["ev"] == "state" and e.get("journal") == 1,
                         what="journal 1")
        time.sleep(0.5)
        assert offline_vote["seq"] not in api_votes(stack, "sim0")
        sim.send("net 1 on")
        got = poll(lambda: api_votes(stack, "sim0").get(offline_vote["seq"]),
                   what="the vote pressed offline")
        assert got["level"] == 0
        status = sim.status()
        assert status[0]["net"] is True and status[0]["power"] is True
        assert sim.close() == 0


def test_power_cuts_during_presses_lose_no_confirmed_vote(stack):
    rng = random.Random(7)
    confirmed = {}
    with sim_for(stack, 1) as sim:
        sim.wait(online, what="first connection")
        for i in range(14):
            level = rng.randrange(4)
            sim.send("press 1 %d" % level)
            # Cut at a random moment around the journal write: before, during, after.
            if i % 2:
                sim.send("sleep %.3f" % (rng.random() * 0.03))
            sim.send("power 1 cut", "power 1 on")
            sim.wait(lambda e: e["ev"] == "power" and e["on"], what="power back on")
            sim.wait(lambda e: e["ev"] == "hello", what="boot after the cut")
        for e in sim.events:
            if e["ev"] == "vote":
                assert e["seq"] not in confirmed, "seq %d confirmed twice" % e["seq"]
                confirmed[e["seq"]] = e["level"]
        mark = sim.mark()
        sim.send("press 1 2")
        last = sim.wait(lambda e: e["ev"] == "vote", what="a last vote")
        confirmed[last["seq"]] = 2
        assert len(confirmed) >= 3, "too few presses were confirmed before the cut to test"
        stored = poll(lambda: (lambda s: s if set(confirmed) <= set(s) else None)(
            stored_seqs(stack, "sim1")), timeout=60, what="every confirmed vote stored")
        for seq, level in confirmed.items():
            assert stored[seq] == level
        # Seqs never reused: each stored seq has one level, and the journal is empty.
        sim.seen_or_wait(mark, lambda e: e["ev"] == "state" and e.get("journal") == 0
                         and e.get("acked") == last["seq"], what="journal drained")
        assert sim.close() == 0


def test_serial_console_on_a_pty_survives_a_power_cut(stack):
    serial = pytest.importorskip("serial")
    with sim_for(stack, 2) as sim:
        hello = sim.wait(lambda e: e["ev"] == "hello")
        port = serial.Serial(hello["pty"], timeout=5)
        try:
            def ask(cmd):
                port.reset_input_buffer()
                port.write(cmd.encode() + b"\n")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    line = port.readline().decode().strip()
                    if line.startswith(("OK", "ERR")):
                        return line
                raise TimeoutError("no answer to %r; console: %s"
                                   % (cmd, console_tail(stack["tmp"] / "dir2" / "sim2")))

            assert json.loads(ask("show config")[3:])["device"] == "sim2"
            sim.send("power 1 cut", "power 1 on")
            sim.wait(lambda e: e["ev"] == "hello")
            status = sim.status()[0]
            assert status["pty"] == hello["pty"]
            answer = ask("status")
            assert answer.startswith("OK ") and json.loads(answer[3:])["boot"] == hello["boot"] + 1
        finally:
            port.close()
        assert sim.close() == 0


def test_rate_generates_random_votes(stack):
    sim = HeadlessSim(["--kiosks", "1", "--credentials", stack["creds"][0], "--broker",
                       stack["broker"], "--dir", stack["tmp"] / "dir0", "--rate", "20",
                       "--seed", "5"], stderr_path=str(stack["tmp"] / "rate.err"))
    with sim:
        seqs = [sim.wait(lambda e: e["ev"] == "vote", what="random vote")["seq"]
                for _ in range(4)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 4
        poll(lambda: set(seqs) <= set(api_votes(stack, "sim0")), what="random votes stored")
        assert sim.close() == 0


def test_unprovisioned_kiosk_is_provisioned_through_its_pty(stack):
    serial = pytest.importorskip("serial")
    cred = json.loads(stack["creds"][3].read_text())
    sim = HeadlessSim(["--kiosks", "0", "--unprovisioned", "1", "--dir", stack["tmp"] / "blank"],
                      stderr_path=str(stack["tmp"] / "blank.err"))
    with sim:
        hello = sim.wait(lambda e: e["ev"] == "hello")
        port = serial.Serial(hello["pty"], timeout=5)
        try:
            port.reset_input_buffer()
            for line in ("set device " + cred["device_id"], "set secret " + cred["secret"],
                         "set broker " + stack["broker"], "set site " + SITE, "reboot"):
                port.write(line.encode() + b"\n")
                answer = b""
                while not answer.startswith((b"OK", b"ERR")):
                    answer = port.readline()
                    assert answer, "no answer to %r; console: %s" % (
                        line, console_tail(stack["tmp"] / "blank" / "unprovisioned-1"))
                assert answer.startswith(b"OK"), answer
        finally:
            port.close()
        sim.wait(online, what="the provisioned kiosk online")
        sim.send("press 1 1")
        vote = sim.wait(lambda e: e["ev"] == "vote")
        assert vote["device"] == cred["device_id"]
        poll(lambda: vote["seq"] in api_votes(stack, cred["device_id"]), what="vote stored")
        assert sim.close() == 0



def test_headless_commands_run_a_consultation(stack):
    """A consultation at the site: the kiosks' state shows it, `answer`
    presses its answers, which land on it; once closed, votes again."""
    consultation_rows(stack["db"], 31, [SITE], kiosk_answers=3)
    with sim_for(stack, 0) as sim:
        sim.wait(lambda e: e["ev"] == "state" and e.get("campaign") == 31, what="campaign 31")
        assert (sim.status()[0]["campaign"], sim.status()[0]["buttons"]) == (31, 3)
        mark = sim.mark()
        sim.send("answer 1 3", "press 1 3", "answer site=%s 2" % SITE)
        refused = sim.seen_or_wait(mark, lambda e: e["ev"] == "refused", what="refusal")
        vote = sim.wait(lambda e: e["ev"] == "vote", what="thank-you")
        assert "answers 0..2" in refused["msg"]
        got = poll(lambda: stored_answer(stack, "sim0", vote["seq"]), what="answer stored")
        assert got == (31, 2)
        assert vote["seq"] not in stored_seqs(stack, "sim0")
        conn = sqlite3.connect(stack["db"], timeout=30)
        with conn:  # closed now: the server republishes the config
            conn.execute("UPDATE consultations SET state = 'closed', updated_ms = updated_ms + 1"
                         " WHERE id = 31")
        conn.close()
        sim.wait(lambda e: e["ev"] == "state" and e.get("campaign") == 0, what="campaign 0")
        mark = sim.mark()
        sim.send("answer 1 0")
        off = sim.seen_or_wait(mark, lambda e: e["ev"] == "refused", what="refusal")
        assert "takes no consultation" in off["msg"]
        assert sim.status()[0]["buttons"] == 4
        assert sim.close() == 0


def stored_answer(stack, device, seq):
    conn = sqlite3.connect(stack["db"], timeout=30)
    try:
        return conn.execute("SELECT consultation_id, answer FROM consultation_answers"
                            " WHERE device_id = ? AND seq = ?", (device, seq)).fetchone()
    finally:
        conn.close()
