"""protocol/ota_vectors.json, the update messages' vectors, checked on both
interpreters: the server's half under CPython, the kiosk's under the
MicroPython unix port too."""
from tests.mpy.check_ota_vectors import check
from tests.realparts import ROOT, run_mpy


def test_ota_vectors_cpython():
    result = check(ROOT)
    assert result["failures"] == []
    assert result["checked"] >= 15


def test_ota_vectors_micropython(micropython):
    result = run_mpy(micropython, "check_ota_vectors.py", heap=None, timeout=60)
    assert result == check(ROOT)
