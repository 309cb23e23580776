"""Child processes that die with the simulator.

Linux's parent-death signal fires when the *thread* that forked the child
ends, so every child is forked from one long-lived thread; the signal then
fires only when the simulator itself goes away, even if it is killed with
SIGKILL and cannot clean up: no orphan firmware or server keeps running."""
import ctypes
import ctypes.util
import signal
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_PR_SET_PDEATHSIG = 1
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")

_prctl: Callable[..., int] | None
try:
    _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: children are stopped by close() only
    _prctl = None


def _die_with_parent():
    assert _prctl is not None
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(args, **kwargs):
    """subprocess.Popen(args, **kwargs), killed if the simulator dies."""
    if _prctl is not None:
        kwargs["preexec_fn"] = _die_with_parent
    return _spawner.submit(subprocess.Popen, args, **kwargs).result()


def stop(proc, timeout=10.0):
    """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout)
