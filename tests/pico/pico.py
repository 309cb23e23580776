"""Drive the emulated Raspberry Pi Pico (harness.js) from Python: power, GPIO,
power cuts, watchdog, flash counters, ticks offset; its USB REPL is served on
socket://127.0.0.1:PORT for mpremote, pyserial and `borne`."""
import ast
import json
import os
import queue
import shutil
import subprocess
import sys
import threading

from tests import realparts

HERE = os.path.dirname(os.path.abspath(__file__))
RP2 = os.path.join(HERE, "rp2")
UF2 = os.path.join(RP2, "micropython-v1.28.0-rpi-pico.uf2")
BOOTROM = os.path.join(RP2, "rp2040-bootrom-b1.bin")
HARNESS = os.path.join(HERE, "harness.js")
EMULATOR = os.path.join(HERE, "node_modules", "rp2040js", "package.json")

# The board file's pins (firmware/board_picow.py, board_pico.py).
BUTTONS = (10, 11, 12, 13)
LED_THANKS = 25
LED_OFFLINE = 15


def find_node():
    """The node command, or None (with the emulator installed by `npm ci`)."""
    node = shutil.which("node")
    if node and os.path.isfile(EMULATOR):
        return node
    return None


def need_node():
    node = find_node()
    if not node:
        realparts.missing("node and rp2040js (run `npm ci` in tests/pico)")
    return node


class HarnessError(Exception):
    pass


class Pico:
    """One emulated Pico. flash: a flash image file to start from (default:
    the vendored MicroPython UF2 on an erased flash). native=False runs
    every function on the emulated core (harness.js --native 0; default:
    False when BORNE_PICO_NATIVE=0)."""

    def __init__(self, flash=None, log=None, node=None, native=None):
        args = [node or need_node(), HARNESS, "--uf2", UF2, "--rom", BOOTROM]
        if flash:
            args += ["--flash", str(flash)]
        if log:
            args += ["--log", str(log)]
        if native is None:
            native = os.environ.get("BORNE_PICO_NATIVE") != "0"
        if not native:
            args += ["--native", "0"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.answers = queue.Queue()
        self.events = []
        self._id = 0
        self._ready = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            ready = self._ready.get(timeout=30)
        except queue.Empty:
            self.close()
            raise HarnessError("the Pico harness did not start") from None
        self.port = ready["port"]

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg.get("ev") == "ready":
                self._ready.put(msg)
            elif "ev" in msg:
                self.events.append(msg)
            else:
                self.answers.put(msg)
        self.answers.put(None)

    def cmd(self, name, timeout=600, **kw):
        self._id += 1
        kw.update(cmd=name, id=self._id)
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        try:
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise HarnessError("no answer from the harness to %s" % name) from None
        if answer is None:
            raise HarnessError("the harness exited (%s)" % self.proc.poll())
        if not answer.get("ok"):
            raise HarnessError(answer.get("error"))
        return answer

    # -- power ------------------------------------------------------------
    def power_on(self, ticks_offset_ms=None):
        kw = {} if ticks_offset_ms is None else {"ticks_offset_ms": ticks_offset_ms}
        return self.cmd("power_on", **kw)

    def power_off(self):
        return self.cmd("power_off")

    def run(self, ms):
        """Let `ms` of emulated time pass (as fast as the host can)."""
        return self.cmd("run", ms=ms)

    def powered(self):
        return self.cmd("stats")["powered"]

    def cut(self, **kw):
        """Arm a power cut: after_instructions=N, before='erase'|'program'|
        'any' (n=k: the kth flash operation of that kind from now; the
        operation never happens), or pin=P (value=V) when an output takes a
        value."""
        return self.cmd("cut", **kw)

    def stats(self):
        return self.cmd("stats")

    def ticks_offset(self, add_ms):
        return self.cmd("ticks_offset", add_ms=add_ms)

    def save(self, path):
        return self.cmd("save", path=str(path))

    def load(self, path):
        return self.cmd("load", path=str(path))

    # -- GPIO ---------------------------------------------------------------
    def pin(self, pin, value):
        return self.cmd("pin", pin=pin, value=value)

    def read(self, pin):
        return self.cmd("read", pin=pin)["value"]

    def watch(self, pin):
        return self.cmd("watch", pin=pin)

    def press(self, button, hold_ms=80, after_ms=0):
        """Press a smiley button (to ground, as wired) for hold_ms."""
        self.pin(BUTTONS[button], 0)
        self.run(hold_ms)
        self.pin(BUTTONS[button], 1)
        if after_ms:
            self.run(after_ms)

    def release_all(self):
        for p in BUTTONS:
            self.pin(p, 1)

    def pin_events(self, pin):
        return [e for e in self.events if e.get("ev") == "pin" and e["pin"] == pin]

    def close(self):
        if os.environ.get("BORNE_PICO_PROFILE") and self.proc.poll() is None:
            s = self.stats()
            print("pico: %.0f ms emulated in %d ms (%.2fx real time), idle %.0f ms, "
                  "executing %d ms, %d instructions" % (
                      s["ms"], s["wall_ms"], s["ms"] / max(1, s["wall_ms"]), s["idle_ms"],
                      s["exec_wall_ms"], s["instructions"]), file=sys.stderr)
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def repl_exec(url, code, timeout=60):
    """Stop the firmware (Ctrl-C) and run `code` at MicroPython's raw REPL
    with mpremote; return what it printed."""
    from mpremote.transport_serial import SerialTransport
    t = SerialTransport(url, baudrate=115200, timeout=timeout)
    try:
        t.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        out, err = t.exec_raw(code, timeout=timeout)
        t.exit_raw_repl()
        if err:
            raise HarnessError("the Pico's REPL raised: %s" % err.decode()[-300:])
    finally:
        t.close()
    return out.decode()


# Every journal record on the kiosk's flash, after the journal's own recovery:
# (seq, boot) of records whose check byte holds, and how many do not.
JOURNAL_DUMP = """import os, struct, journal
from binascii import crc32
j = journal.Journal('')
j.open()
def _recs(d):
    out = []
    bad = 0
    for n in sorted(os.listdir(d)):
        p = d + '/' + n
        if os.stat(p)[0] & 0x4000 or n == 'tmp':
            continue
        b = open(p, 'rb').read()
        for i in range(0, len(b) - 15, 16):
            if crc32(b[i:i + 15]) & 0xFF == b[i + 15]:
                out.append(struct.unpack_from('>II', b, i))
            else:
                bad += 1
    return out, bad
a, x = _recs('/j')
b, y = _recs('/j/s')
print(repr((a + b, x + y, j.next_seq, j.boot)))
"""


def journal_records(url):
    """([(seq, boot), ...] in flash order, damaged count, next seq, boot)."""
    return ast.literal_eval(repl_exec(url, JOURNAL_DUMP).strip())
