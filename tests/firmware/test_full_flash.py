"""A full flash never refuses a press: the oldest pending votes are dropped,
counted, and the new one stored. Real LittleFS under the MicroPython unix
port, with the ESP32's (32 B) and the rp2's (256 B) program sizes."""
import json
import os
import subprocess

import pytest

from tests.realparts import ROOT

pytestmark = pytest.mark.timeout(180)


def run_full(micropython, tmp_path, blocks, prog, votes, limit=None):
    args = [micropython, "-X", "heapsize=256k", os.path.join(ROOT, "tests", "mpy",
            "journal_full.py"), ROOT, str(tmp_path / "flash.img"), str(blocks), str(prog),
            str(votes)] + ([str(limit)] if limit else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=170)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("prog", [32, 256])
@pytest.mark.parametrize("blocks,votes", [(16, 1500), (48, 10000)])
@pytest.mark.parametrize("bound", ["filesystem", "flash fills"])
def test_full_flash_drops_the_oldest_and_stores_the_new(micropython, tmp_path, blocks, votes,
                                                         prog, bound):
    # "flash fills": a bound above what the flash holds, so LittleFS itself
    # runs out of space (ENOSPC) before the journal's bound is reached.
    r = run_full(micropython, tmp_path, blocks, prog, votes,
                 limit=100000 if bound == "flash fills" else None)
    assert r["refused"] == 0, r
    assert r["seqs_ok"]  # every press got the next seq
    assert r["last"] == votes
    assert r["dropped"] > 0
    assert r["pending"] + r["dropped"] == votes
    # The bound comes from the flash: a quarter of the blocks, 256 votes each.
    assert r["capacity"] == (blocks - 8) * 256 // 4
    if bound == "filesystem":
        assert r["pending"] <= r["capacity"]
    assert r["free_bad"] == 0, r  # bytes_free never wraps around
    # After a reboot: the same votes, the newest kept, the count persisted.
    assert r["pending_after_boot"] == r["pending"] == r["read"]
    assert r["dropped_after_boot"] == r["dropped"]
    assert r["read_in_order"] and r["newest_kept"]

