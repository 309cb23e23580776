"""Run the real firmware under the MicroPython unix port (simulator/mpy/kiosk.py)
and drive it through its serial console: see simulator/mpy/CONTROL.md."""
import json
import os
import queue
import subprocess
import threading
import time

from sync_server.devices.firmware import compiled
from tests import realparts

KIOSK = os.path.join(realparts.ROOT, "simulator", "mpy", "kiosk.py")
POWER_CUT = 137


class Firmware:
    """One kiosk process on a flash image; console lines answered in order."""

    def __init__(self, micropython, flash, env=None, heap="100k", mpy=True):
        """mpy: run the .mpy build a board gets (`borne firmware build`);
        False runs the source tree, compiled on the board at import."""
        self.cmd = [micropython, "-X", "heapsize=" + heap, KIOSK]
        self.env = dict(os.environ, BORNE_FLASH=str(flash), BORNE_EXIT_ON_REBOOT="1",
                        **(env or {}))
        if mpy:
            self.env["BORNE_FW_MPY"] = compiled()
        else:
            self.env.pop("BORNE_FW_MPY", None)
        self.proc = None
        self.logs = []

    def start(self, **extra):
        env = dict(self.env, **{k: str(v) for k, v in extra.items()})
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.answers = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, self.answers),
                         daemon=True).start()
        return self

    def _pump(self, proc, answers):
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("LOG "):
                self.logs.append(line[4:])
            else:
                answers.put(line)
        answers.put(None)

    def ask(self, line, timeout=20):
        """Send one console command; return the parsed OK object, or
        ('ERR', text), or None when the process died first."""
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        try:
            ans = self.answers.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no answer to %r; logs: %s" % (line, self.logs[-5:])) from None
        if ans is None:
            return None
        if ans.startswith("OK "):
            return json.loads(ans[3:])
        if ans.startswith("ERR "):
            return ("ERR", ans[4:])
        rest = []
        while True:
            try:
                more = self.answers.get(timeout=2)
            except queue.Empty:
                break
            if more is None:
                break
            rest.append(more)
        raise AssertionError("unparseable console line %r; then %s" % (ans, rest[:12]))

    def wait_status(self, pred, timeout=60, step=0.2):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.ask("status")
            if st is None:
                raise RuntimeError("firmware exited: %s; logs: %s"
                                   % (self.proc.poll(), self.logs[-5:]))
            if pred(st):
                return st
            time.sleep(step)
        raise TimeoutError("status never matched; last %r; logs: %s" % (st, self.logs[-8:]))

    def read_file(self, name):
        """A file of the stopped kiosk's flash, as text (mounted as its board does)."""
        script = ("import sys\nsys.path.insert(0, %r)\nfrom flash import mount\n"
                  "mount('/flash')\nprint(open('/flash/%s').read())"
                  % (os.path.dirname(KIOSK), name))
        out = subprocess.run([self.cmd[0], "-c", script], capture_output=True, text=True,
                             env=self.env, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout[:-1]

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.kill()
