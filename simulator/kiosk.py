"""One simulated kiosk: the real firmware in a MicroPython unix-port process
on the simulator's board, its control link and its serial console.

The board inside the process connects to a TCP port that this object
listens on (BORNE_SIM_CTL) and exchanges JSON lines with it: presses and the
network switch go in, votes, LEDs and state come out (simulator/mpy/CONTROL.md).
Power cut = SIGKILL, then a new process on the same flash image."""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from simulator.procs import spawn
from simulator.serial_pty import SerialPty
from sync_server.devices.firmware import compiled

HERE = os.path.dirname(os.path.abspath(__file__))
BOARD_SCRIPT = os.path.join(HERE, "mpy", "kiosk.py")
REPO_ROOT = os.path.dirname(HERE)

# The board script exits at every reset (BORNE_EXIT_ON_REBOOT, status 0) and
# is started again at once: a fresh process, as a board's reset gives its
# firmware a fresh heap (in one process, the interned names and the holes the
# REPL left would stay). A firmware that exits otherwise is restarted too;
# one that keeps dying right after start is left off and reported.
CRASH_WINDOW_S = 3.0
CRASH_LIMIT = 5
RESTART_PAUSE_S = 1.0


def find_micropython():
    local = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.access(local, os.X_OK):
        return local
    return shutil.which("micropython")


class Kiosk:
    """number: the kiosk's number in its fleet (1, 2, ...); workdir: where its
    flash image, console log and process output live; seed: provisioning
    given to the board when the flash holds none (device, broker, user,
    password, site); emit(event_dict) is called from background threads."""

    def __init__(self, number, workdir, seed, emit, micropython=None, heapsize="104k"):
        self.number = number
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.flash = os.path.join(workdir, "flash.img")
        self.seed = dict(seed)
        self.device = self.seed.get("device")
        self._emit = emit
        self.micropython = micropython or find_micropython()
        if not self.micropython:
            raise FileNotFoundError("micropython (the MicroPython unix port) was not found")
        self.heapsize = heapsize
        self.state = {"power": False, "net": True, "mqtt": "down", "journal": None,
                      "clock": None, "acked": None, "votes": 0, "suppressed": 0,
                      "boots": 0}
        self.proc = None
        self.reprovision = []       # console lines typed at the next hello (e.g. a new broker)
        self._lock = threading.RLock()
        self._conn = None
        self._pending = []          # commands typed before the board connected
        self._surroundings = {}     # battery and signal lines, sent again at each boot
        self._wanted_on = False
        self._crashes = []
        self._stop = threading.Event()
        self.serial = SerialPty(os.path.join(workdir, "console.log"))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.ctl_port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True,
                                          name="ctl %d" % number)]
        self._threads[0].start()

    # -- events ---------------------------------------------------------------

    def emit(self, event):
        event = dict(event)
        event.setdefault("kiosk", self.number)
        if self.device and "device" not in event:
            event["device"] = self.device
        self._emit(event)

    def snapshot(self):
        with self._lock:
            snap = dict(self.state)
            snap.update(kiosk=self.number, device=self.device, pty=self.serial.path,
                        pid=self.proc.pid if self.proc and self.proc.poll() is None else None,
                        flash=self.flash)
            return snap

    # -- power ----------------------------------------------------------------

    def power_on(self):
        with self._lock:
            if self.proc and self.proc.poll() is None:
                return False
            self._wanted_on = True
            self._crashes = []
            self._start()
            return True

    def _start(self, reset=False):
        env = dict(os.environ)
        env["BORNE_FLASH"] = self.flash
        env["BORNE_SIM_CTL"] = "127.0.0.1:%d" % self.ctl_port
        env["BORNE_FW_MPY"] = compiled()  # the .mpy a board gets, rebuilt when a source changes
        env["BORNE_EXIT_ON_REBOOT"] = "1"
        for key, value in self.seed.items():
            if value is not None:
                env["BORNE_" + key.upper()] = str(value)
        self.proc = spawn(
            [self.micropython, "-X", "heapsize=" + self.heapsize, BOARD_SCRIPT],
            cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, bufsize=0)
        self.state["power"] = True
        self.state["mqtt"] = "down"
        if not reset:
            self.state["boots"] += 1
        self._started_at = time.monotonic()
        self.serial.attach(self.proc.stdin.fileno())
        proc = self.proc
        t = threading.Thread(target=self._pump_output, args=(proc,), daemon=True,
                             name="out %d" % self.number)
        t.start()
        if reset:
            self.emit({"ev": "reset", "pid": proc.pid})
        else:
            self.emit({"ev": "power", "on": True, "pid": proc.pid, "pty": self.serial.path})

    def power_cut(self):
        """Cut the power wherever the firmware is: SIGKILL, nothing runs after."""
        with self._lock:
            self._wanted_on = False
            proc = self.proc
            if not proc or proc.poll() is not None:
                return False
            self.serial.detach(proc.stdin.fileno())
            self._pending = []  # presses made while it was booting die with it
            proc.kill()
        proc.wait(10)
        with self._lock:
            self._drop_conn()
            self.state["power"] = False
            self.state["mqtt"] = "down"
        self.emit({"ev": "power", "on": False})
        return True

    def reboot(self):
        """A clean reset, asked over the serial console."""
        with self._lock:
            proc = self.proc
            if not proc or proc.poll() is not None:
                return False
        # The firmware answers `OK {}`, its process exits and starts again.
        return self.console("reboot")

    def _pump_output(self, proc):
        fd = proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                break
            self.serial.output(data)
        code = proc.wait()
        self.serial.detach(proc.stdin.fileno())
        proc.stdout.close()
        proc.stdin.close()
        with self._lock:
            if proc is not self.proc or not self._wanted_on:
                return  # a power cut: power_cut() reports it
            self._drop_conn()
            self.state["mqtt"] = "down"
            if code == 0:  # a reset: the board comes back at once
                if not self._stop.is_set():
                    self._start(reset=True)
                return
            self.state["power"] = False
            now = time.monotonic()
            quick = now - self._started_at < CRASH_WINDOW_S
            self._crashes = [t for t in self._crashes if now - t < 60] + ([now] if quick else [])
            gave_up = len(self._crashes) >= CRASH_LIMIT
            if gave_up:
                self._wanted_on = False
        self.emit({"ev": "exit", "code": code, "restart": not gave_up})
        if gave_up:
            self.emit({"ev": "crashed", "log": os.path.join(self.workdir, "console.log")})
            return
        if quick:
            time.sleep(RESTART_PAUSE_S)
        with self._lock:
            if self._wanted_on and not self._stop.is_set() and (
                    self.proc is proc or self.proc.poll() is not None):
                self._start()

    # -- control link ---------------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self._drop_conn()
                self._conn = conn
                pending, self._pending = self._pending, []
                # What the board cannot remember: the world around it.
                pending[:0] = list(self._surroundings.values())
                if not self.state["net"]:
                    pending.insert(0, {"cmd": "net", "up": False})
                for cmd in pending:
                    self._send_now(cmd)
            threading.Thread(target=self._read_conn, args=(conn,), daemon=True,
                             name="ctl-read %d" % self.number).start()

    def _read_conn(self, conn):
        buf = b""
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    self._board_event(line)
        with self._lock:
            if self._conn is conn:
                self._conn = None
        try:
            conn.close()
        except OSError:
            pass

    def _board_event(self, line):
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or "ev" not in event:
                raise ValueError("no ev")
        except ValueError:
            self.emit({"ev": "board-garbage", "line": line.decode("utf-8", "replace")[:200]})
            return
        kind = event["ev"]
        with self._lock:
            if kind in ("hello", "state"):
                for key, value in event.items():
                    if key not in ("ev", "kiosk"):
                        self.state[key] = value
                if event.get("device"):
                    self.device = event["device"]
            elif kind == "vote":
                self.state["votes"] += 1
                if "seq" in event:
                    self.state["last_seq"] = event["seq"]
            elif kind == "suppressed" and "count" in event:
                self.state["suppressed"] = event["count"]
        if kind == "hello":
            event.setdefault("pty", self.serial.path)
        self.emit(event)
        if kind == "hello" and self.reprovision:
            lines, self.reprovision = self.reprovision, []
            for line in lines:
                self.console(line)

    def _drop_conn(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def _send_now(self, cmd):
        try:
            self._conn.sendall((json.dumps(cmd) + "\n").encode())
            return True
        except OSError:
            self._drop_conn()
            return False

    def send(self, cmd):
        """Send a control line; queued until the board connects if it is booting.
        Returns False when the kiosk has no power (the command is lost, as on a
        real kiosk whose buttons are pressed while it is off)."""
        with self._lock:
            if not self.state["power"]:
                return False
            if self._conn is not None and self._send_now(cmd):
                return True
            self._pending.append(cmd)
            return True

    def press(self, level):
        return self.send({"cmd": "press", "button": int(level)})

    def set_net(self, up):
        with self._lock:
            self.state["net"] = bool(up)
            if not self.state["power"]:
                return True  # remembered: applied when the board connects
        self.send({"cmd": "net", "up": bool(up)})
        return True

    def set_surroundings(self, cmd):
        """A battery or signal line ({"cmd": "battery"|"rssi", ...}): the board
        gets it now and again after every boot, since it is physics, not state."""
        with self._lock:
            self._surroundings[cmd["cmd"]] = cmd
            self.state[cmd["cmd"]] = {k: v for k, v in cmd.items() if k != "cmd"}
            if not self.state["power"]:
                return True
        return self.send(cmd)

    def console(self, line):
        """Type one line on the serial console (as the pty would)."""
        return self.serial.write_input(line.encode() + b"\n")

    def close(self):
        if self._stop.is_set():
            return
        self._stop.set()
        self.power_cut()
        try:
            self._listener.close()
        except OSError:
            pass
        self.serial.close()
