"""What the tests of kiosk provisioning share: the `borne` command, a
simulated kiosk on its pseudo-terminal, the files of its flash."""
import os
import subprocess

from tests import realparts
from tests.server_support import BORNE

SITE = "mairie-nord"


def borne(*args, user=None, timeout=90, cwd=None, env=None):
    cmd = [BORNE, *map(str, args)]
    if user:
        # An unprivileged user: root ignores file modes, a technician does not.
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env)


def start_kiosk(workdir, heapsize="104k"):
    """An unprovisioned simulated kiosk, powered on; its console answers."""
    realparts.need_binary("micropython")
    from simulator.kiosk import Kiosk
    events = []
    k = Kiosk(1, str(workdir), {}, events.append, heapsize=heapsize)
    k.events = events
    k.power_on()
    realparts.poll(lambda: any(e["ev"] == "hello" for e in events), 20, "the firmware's hello")
    return k


def flash_file(kiosk, name):
    """A file of a powered-off simulated kiosk's flash, as text, read as its board mounts it."""
    mpy = os.path.join(realparts.ROOT, "simulator", "mpy")
    script = ("import sys\nsys.path.insert(0, %r)\nfrom flash import mount\nmount('/flash')\n"
              "print(open('/flash/%s').read())" % (mpy, name))
    out = subprocess.run([kiosk.micropython, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, BORNE_FLASH=kiosk.flash), timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout[:-1]
