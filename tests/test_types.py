"""mypy checks sync_server/ and simulator/ with the configuration of
pyproject.toml ([tool.mypy])."""
import subprocess
import sys

from tests.realparts import ROOT


def test_mypy_finds_no_type_error():
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
