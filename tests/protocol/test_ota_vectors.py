"""protocol/ota_vectors.json, the update messages' vectors, checked on both
interpreters: the server's half under CPython, the kiosk's under the
MicroPython unix port too."""
import json
import subprocess

from tests.mpy.check_ota_vectors import check
from tests.realparts import ROOT


def test_ota_vectors_cpython():
    result = check(ROOT)
    assert result["failures"] == []
    assert result["checked"] >= 15


def test_ota_vectors_micropython(micropython):
    out = subprocess.run([micropython, "tests/mpy/check_ota_vectors.py", ROOT], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == check(ROOT)
