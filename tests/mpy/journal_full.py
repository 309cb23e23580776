# A full flash never refuses a vote, under the MicroPython unix port:
#   micropython tests/mpy/journal_full.py ROOT IMG BLOCKS PROG VOTES [LIMIT]
# LittleFS of BLOCKS 4 KiB blocks with PROG-byte programs; VOTES presses
# offline (nothing acked), the journal bound from the filesystem, or LIMIT set
# over it (larger than the flash holds: the flash itself fills). Prints one JSON line.
import json
import os
import sys

import vfs

ROOT = sys.argv[1]
sys.path[:0] = [ROOT + "/firmware", ROOT + "/simulator/mpy"]
import board_base  # noqa: E402
import flash  # noqa: E402
import journal  # noqa: E402

IMG = sys.argv[2]
BLOCKS = int(sys.argv[3])
PROG = int(sys.argv[4])
VOTES = int(sys.argv[5])
LIMIT = int(sys.argv[6]) if len(sys.argv) > 6 else None
OPTS = {"readsize": 32, "progsize": PROG, "lookahead": 32}


class Board(board_base.Board):
    fs_base = "/fl"


def mount():
    dev = flash.FileFlash(IMG, BLOCKS)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev, **OPTS)
    vfs.mount(vfs.VfsLfs2(dev, mtime=False, **OPTS), "/fl")
    return dev


try:
    os.remove(IMG)
except OSError:
    pass
dev = mount()
board = Board()
j = journal.Journal("/fl")
j.open()
j.start_boot()
fit = j.capacity
if LIMIT:
    j.capacity = LIMIT
out = {"capacity": fit, "refused": 0, "free_bad": 0, "seqs_ok": True}
last = 0
size = BLOCKS * 4096
for i in range(VOTES):
    try:
        seq = j.append(1763900000000 + i * 6000, i % 4, 4, 0)
    except OSError as e:
        out["refused"] += 1
        out["error"] = repr(e)
        continue
    if seq != last + 1:
        out["seqs_ok"] = False
    last = seq
    if i % 25 == 0:
        free = board.fs_free()
        if free is None or not 0 <= free <= size:
            out["free_bad"] += 1
            out["free_seen"] = free
out["pending"] = j.pending()
out["dropped"] = j.dropped
out["last"] = last
vfs.umount("/fl")
dev.close()
# After a reboot: the same pending votes, oldest first, the newest among them.
dev = mount()
j = journal.Journal("/fl")
j.open()
out["pending_after_boot"] = j.pending()
out["dropped_after_boot"] = j.dropped
n = 0
prev = 0
in_order = True
while True:
    boot, vs = j.read(100)
    if not vs:
        break
    for v in vs:
        in_order = in_order and v[0] > prev
        prev = v[0]
    n += len(vs)
    j.ack(vs[-1][0])
out["read"] = n
out["read_in_order"] = in_order
out["newest_kept"] = prev == last
vfs.umount("/fl")
dev.close()
os.remove(IMG)
print(json.dumps(out))
