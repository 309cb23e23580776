"""The board files type-checked with mypy against the official MicroPython
stubs of each board (PyPI `micropython-esp32-stubs` and
`micropython-rp2-rpi-pico-w-stubs`, installed by `make setup` into
.venv/mpy-stubs/): a wrong `machine`, `network` or `socket` call fails here.
Errors inside the stubs themselves are not the firmware's and are left out."""
import os
import shutil
import subprocess
import sys

import pytest

from tests import realparts

STUBS = os.path.join(realparts.ROOT, ".venv", "mpy-stubs")
BOARDS = {"esp32": "board_esp32.py", "picow": "board_picow.py"}


def mypy(board, fw_dir, tmp_path):
    stubs = os.path.join(STUBS, board)
    if not os.path.isdir(os.path.join(stubs, "stdlib")):
        realparts.missing("MicroPython stubs for %s in %s (run `make setup`)" % (board, stubs))
    try:
        import mypy  # noqa: F401
    except ImportError:
        realparts.missing("mypy (pip install -e '.[test]')")
    env = dict(os.environ, MYPYPATH=os.pathsep.join(
        [stubs, str(fw_dir), os.path.join(realparts.ROOT, "protocol")]))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--custom-typeshed-dir", stubs, "--no-site-packages",
         "--check-untyped-defs", "--cache-dir", str(tmp_path / ("cache-" + board)),
         "--no-error-summary", os.path.join(str(fw_dir), BOARDS[board])],
        capture_output=True, text=True, env=env, timeout=600, cwd=str(fw_dir))
    assert out.returncode in (0, 1), out.stderr  # 2: mypy itself failed
    return [line for line in out.stdout.splitlines()
            if ": error:" in line and "mpy-stubs" not in line.split(":")[0]]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_files_match_the_official_stubs(board, tmp_path):
    errors = mypy(board, os.path.join(realparts.ROOT, "firmware"), tmp_path)
    assert errors == []


def test_a_wrong_hardware_call_is_caught(tmp_path):
    fw = tmp_path / "firmware"
    shutil.copytree(os.path.join(realparts.ROOT, "firmware"), fw)
    src = (fw / "board_esp32.py").read_text()
    broken = (src.replace("machine.Pin.PULL_UP", "machine.Pin.PULL_SIDEWAYS")
                 .replace("network.WLAN(network.STA_IF)", "network.WLAN(network.STATION)")
                 .replace("machine.WDT(timeout=30000)", "machine.WDT(timeout_ms=30000)"))
    assert broken.count("SIDEWAYS") == 1 and "STATION" in broken and "timeout_ms" in broken
    (fw / "board_esp32.py").write_text(broken)
    errors = "\n".join(mypy("esp32", fw, tmp_path))
    assert "PULL_SIDEWAYS" in errors
    assert "STATION" in errors
    assert "timeout_ms" in errors
