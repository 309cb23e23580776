# Flash cost per vote on a counting block device (4 KiB blocks) under the
# MicroPython unix port, with each board's LittleFS mount parameters (ESP32:
# 32-byte programs; rp2: 256-byte programs): the Borne journal against the
# naive "append to one file and flush" baseline, in the same run.
#   .venv/bin/python bench/bench_flash.py [VOTES [BACKLOG [BLOCKS]]]
# (re-runs itself under micropython)
import sys

if sys.implementation.name != "micropython":
    import os
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    sys.exit(subprocess.call([mp, "-X", "heapsize=96k", os.path.join(here, "bench_flash.py")]
                             + sys.argv[1:]))

import os  # noqa: E402

import vfs  # noqa: E402

ROOT = __file__.rsplit("/", 2)[0] if "/" in __file__ else ".."
sys.path.insert(0, ROOT + "/firmware")
sys.path.insert(0, ROOT + "/simulator/mpy")
import flash  # noqa: E402
import journal  # noqa: E402

VOTES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BACKLOG = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
IMG = "/tmp/borne-bench-flash.img"


BLOCKS = int(sys.argv[3]) if len(sys.argv) > 3 else 512  # 2 MiB, the simulator's default
# (board, program size): how each port mounts LittleFS.
BOARDS = (("ESP32", 32), ("rp2 (Pico W)", 256))
PROG = 32


def fresh(blocks=BLOCKS):
    try:
        os.remove(IMG)
    except OSError:
        pass
    dev = flash.FileFlash(IMG, blocks=blocks)
    vfs.VfsLfs2.mkfs(dev, readsize=32, progsize=PROG, lookahead=32)
    fs = vfs.VfsLfs2(dev, readsize=32, progsize=PROG, lookahead=32, mtime=False)
    vfs.mount(fs, "/fl")
    return dev


def done(dev):
    vfs.umount("/fl")
    dev.close()
    os.remove(IMG)


def measure(name, run):
    dev = fresh()
    p0, e0 = dev.programmed, dev.erased
    run(dev)
    p, e = dev.programmed - p0, dev.erased - e0
    done(dev)
    print("%-44s %8.1f B/vote %7.3f erase/vote" % (name, p / VOTES, e / VOTES))
    return p / VOTES, e / VOTES


def naive(dev):
    rec = b"0123456789abcdef"
    with open("/fl/votes.bin", "ab") as f:
        for _ in range(VOTES):
            f.write(rec)
            f.flush()


def borne_offline(dev):
    j = journal.Journal(base="/fl", capacity=50000)
    j.open()
    j.start_boot()
    for i in range(VOTES):
        j.append(1763900000000 + i * 6000, i % 4, 4, 0)


def borne_online(dev):
    # Acked in batches of 10 as they would be with the server reachable.
    j = journal.Journal(base="/fl", capacity=50000)
    j.open()
    j.start_boot()
    for i in range(VOTES):
        s = j.append(1763900000000 + i * 6000, i % 4, 4, 0)
        if i % 10 == 9:
            j.ack(s)


def backlog_space(n):
    # Flash in use for n pending votes: what bounds the journal's room.
    dev = fresh(1024)
    j = journal.Journal(base="/fl", capacity=50000)
    j.open()
    j.start_boot()
    for i in range(n):
        j.append(1763900000000 + i * 6000, i % 4, 4, 0)
    st = os.statvfs("/fl")
    used = (st[2] - st[3]) * st[0]
    done(dev)
    return used


def borne_online_1(dev):
    # Acked one by one: a kiosk with the server reachable and presses apart.
    j = journal.Journal(base="/fl", capacity=50000)
    j.open()
    j.start_boot()
    for i in range(VOTES):
        j.ack(j.append(1763900000000 + i * 6000, i % 4, 4, 0))


for board, PROG in BOARDS:
    print("%s: flash cost per 16-byte vote, %d votes, prog %d B, block 4 KiB, %d blocks"
          % (board, VOTES, PROG, BLOCKS))
    nb, ne = measure("naive: one file, append + flush", naive)
    ob, oe = measure("borne journal, offline (all pending)", borne_offline)
    cb, ce = measure("borne journal, online (acked every 10)", borne_online)
    c1b, c1e = measure("borne journal, online (each acked)", borne_online_1)
    print("ratio to naive: offline %.3f bytes %.3f erases; online %.3f bytes %.3f erases"
          % (ob / nb, oe / ne, cb / nb, ce / ne))
    print("target: <= 256 B and <= 0.1 erase per vote: %s"
          % ("met" if max(ob, cb, c1b) <= 256 and max(oe, ce, c1e) <= 0.1 else "NOT met"))
    used = backlog_space(BACKLOG)
    print("flash in use for a backlog of %d pending votes: %d KiB, %.1f B/vote"
          % (BACKLOG, used // 1024, used / BACKLOG))
    print()
