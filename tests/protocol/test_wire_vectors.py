"""The shared vectors pass under CPython and under the real MicroPython, for
both halves of the protocol: the server's and the kiosk's."""
from tests.mpy.check_vectors import check
from tests.realparts import ROOT, run_mpy


def test_vectors_cpython():
    result = check(ROOT)
    assert result["failures"] == []
    assert result["checked"] >= 30
    assert result["kiosk_checked"] >= 10


def test_vectors_micropython(micropython):
    result = run_mpy(micropython, "check_vectors.py", heap=None, timeout=60)
    assert result["failures"] == []
    assert result["checked"] == check(ROOT)["checked"]
    assert result["kiosk_checked"] == check(ROOT)["kiosk_checked"]
