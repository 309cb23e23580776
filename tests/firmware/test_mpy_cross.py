"""Every firmware and protocol file compiles with mpy-cross."""
import glob
import os
import subprocess

from tests.realparts import ROOT


def micropython_sources():
    files = []
    for folder in ("firmware", "protocol"):
        files += glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)
    return sorted(files)


def test_all_sources_compile(mpy_cross, tmp_path):
    files = micropython_sources()
    assert any(f.endswith("kiosk_wire.py") for f in files)
    errors = []
    for f in files:
        out = subprocess.run([mpy_cross, "-o", str(tmp_path / "out.mpy"), f],
                             capture_output=True, text=True)
        if out.returncode:
            errors.append("%s: %s" % (os.path.relpath(f, ROOT), out.stderr.strip()))
    assert errors == []
