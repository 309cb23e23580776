"""Drive `borne sim --headless` from Python: send command lines, wait for
JSON events. Tests of any part that need kiosks running the real firmware
use it, e.g.:

    with HeadlessSim(["--kiosks", "1", "--credentials", path, "--broker", url,
                      "--dir", tmp]) as sim:
        sim.wait(lambda e: e["ev"] == "state" and e.get("mqtt") == "up")
        sim.send("press 1 3")
        vote = sim.wait(lambda e: e["ev"] == "vote")
"""
import json
import os
import queue
import subprocess
import sys
import threading
import time

from simulator.procs import spawn, stop

BORNE = os.path.join(os.path.dirname(sys.executable), "borne")


class HeadlessSim:
    def __init__(self, args, env=None, stderr_path=None, window=False):
        """window=True runs the Tk window instead (it prints the same events)."""
        self.window = window
        self.args = list(args) if window else ["--headless", *args]
        self.env = dict(os.environ, **(env or {}))
        self.stderr_path = stderr_path
        self.events = []            # every event seen, in order
        self._queue = queue.Queue()
        self.proc = None

    def start(self):
        err = open(self.stderr_path, "ab") if self.stderr_path else subprocess.DEVNULL
        self.proc = spawn([BORNE, "sim", *self.args], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=err, env=self.env)
        self._reader = threading.Thread(target=self._pump, daemon=True, name="sim events")
        self._reader.start()
        return self

    def _pump(self):
        for raw in self.proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                event = {"ev": "unparsed", "line": raw.decode("utf-8", "replace")}
            self.events.append(event)
            self._queue.put(event)
        self._queue.put(None)

    def send(self, *lines):
        for line in lines:
            self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, predicate, timeout=30.0, what="event"):
        """The next event (from now on) for which predicate(event) is true."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s within %.0f s; last events: %s"
                                   % (what, timeout, self.events[-8:]))
            try:
                event = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                raise RuntimeError("borne sim exited with %s; last events: %s"
                                   % (self.proc.wait(10), self.events[-8:]))
            if predicate(event):
                return event

    def mark(self):
        """A position in the events seen so far, for `seen_or_wait`."""
        return len(self.events)

    def seen_or_wait(self, since, predicate, timeout=30.0, what="event"):
        """An event seen since `mark()` for which predicate(event) is true, or
        the next one to come: for events whose order the firmware may vary."""
        for event in list(self.events[since:]):
            if predicate(event):
                return event
        return self.wait(predicate, timeout, what)

    def wait_kiosk(self, kiosk, predicate, timeout=30.0, what="event"):
        return self.wait(lambda e: e.get("kiosk") == kiosk and predicate(e), timeout, what)

    def wait_online(self, kiosks, timeout=30.0):
        """Until each of these kiosk numbers has been connected with its clock set
        (events already seen count)."""
        def online(e):
            return e["ev"] == "state" and e.get("mqtt") == "up" and \
                e.get("clock") not in (None, "unknown")
        missing = set(kiosks) - {e.get("kiosk") for e in list(self.events) if online(e)}

        def seen(e):
            if online(e):
                missing.discard(e.get("kiosk"))
            return not missing
        if missing:
            self.wait(seen, timeout, "kiosks %s online" % sorted(missing))

    def status(self, timeout=10.0):
        self.send("status")
        return self.wait(lambda e: e["ev"] == "status", timeout, "status")["kiosks"]

    def close(self, timeout=20.0):
        """`quit` (SIGTERM for the window), then wait; returns the exit status.
        Every event printed is in `events` once this returns."""
        if self.proc is None:
            return None
        try:
            return self._close(timeout)
        finally:
            self._reader.join(timeout)

    def _close(self, timeout):
        if self.proc.poll() is None and self.window:
            return stop(self.proc, timeout)
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stop(self.proc)
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
