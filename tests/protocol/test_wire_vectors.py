"""The shared vectors pass under CPython and under the real MicroPython, for
both halves of the protocol: the server's and the kiosk's."""
import json
import subprocess

from tests.mpy.check_vectors import check
from tests.realparts import ROOT


def test_vectors_cpython():
    result = check(ROOT)
    assert result["failures"] == []
    assert result["checked"] >= 30
    assert result["kiosk_checked"] >= 10


def test_vectors_micropython(micropython):
    out = subprocess.run([micropython, "tests/mpy/check_vectors.py", ROOT], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failures"] == []
    assert result["checked"] == check(ROOT)["checked"]
    assert result["kiosk_checked"] == check(ROOT)["kiosk_checked"]
