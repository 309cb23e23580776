# Power cut at the k-th block-device write of a journal run, for every k of a
# short run (or every STEP-th k), under the MicroPython unix port:
#   micropython tests/mpy/journal_powercut.py ROOT IMG VOTES STEP clean|torn [acks|backlog]
# acks: acked as it goes (pending stays small); backlog: nothing acked for the
# first three quarters, so segments get packed, then acks free packed files.
# After each cut the image is mounted again and recovered: no confirmed vote
# lost, no seq reused, no vote whose ack completed pending again (the acked
# position survives reboots), and each pending vote comes back with the
# campaign set before it (changing every 7 votes). Prints one JSON line {"cuts": N, "failures":
# [...], "writes": W}.
import json
import os
import sys

import vfs

ROOT = sys.argv[1]
sys.path[:0] = [ROOT + "/firmware", ROOT + "/simulator/mpy"]
import campaign  # noqa: E402
import flash  # noqa: E402
import journal  # noqa: E402
from images import copy, discard  # noqa: E402

IMG = sys.argv[2]
VOTES = int(sys.argv[3])
STEP = int(sys.argv[4])
TORN = len(sys.argv) > 5 and sys.argv[5] == "torn"
BACKLOG = len(sys.argv) > 6 and sys.argv[6] == "backlog"
if BACKLOG:
    KW = {"capacity": 1000, "per_seg": 8, "pack_after": 3, "pack_n": 2}
else:
    KW = {"capacity": 40, "per_seg": 8}
OPTS = {"readsize": 32, "progsize": 32, "lookahead": 32}
CAMPAIGNS = (0, 3, 0, 9, 65535)
CAMP = {}  # seq -> the campaign set before it was appended
LAST = [0]  # the campaign set before the vote being appended


def mount(cut_at=0):
    dev = flash.FileFlash(IMG, 64, cut_at, TORN)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev, **OPTS)
    vfs.mount(vfs.VfsLfs2(dev, mtime=False, **OPTS), "/fl")
    return dev


def unmount(dev):
    try:
        vfs.umount("/fl")
    except OSError:
        pass
    dev.close()


def scenario(dev, log):
    """Votes with acks every 5 and a reboot in the middle. log collects what
    the kiosk confirmed: ('vote', seq), ('ack', seq) when the server's ack
    arrives and ('acked', seq) once the journal has taken it."""
    j = journal.Journal("/fl", **KW)
    j.open()
    j.start_boot()
    for i in range(VOTES):
        if i == VOTES // 2:
            j = journal.Journal("/fl", **KW)
            j.open()
            j.start_boot()
        LAST[0] = CAMPAIGNS[(i // 7) % len(CAMPAIGNS)]
        campaign.set_campaign(j, LAST[0])
        seq = j.append(1763900000000 + i, i % 4, 4, i & 7)
        CAMP[seq] = LAST[0]
        log.append(("vote", seq))
        if i % 5 == 4 and (not BACKLOG or i >= VOTES * 3 // 4):
            # The server committed these before its ack arrived: log first.
            log.append(("ack", seq - 2))
            j.ack(seq - 2)
            log.append(("acked", seq - 2))


def check(log):
    """Recover and compare with what was confirmed before the cut."""
    dev = mount()
    j = journal.Journal("/fl", **KW)
    j.open()
    votes = [s for k, s in log if k == "vote"]
    acked = max([s for k, s in log if k == "ack"] or [0])
    done = max([s for k, s in log if k == "acked"] or [0])
    depth = j.pending()
    got = []
    wrong = []
    while True:
        boot, vs = j.read(7)
        if not vs:
            break
        got += [v[0] for v in vs]
        wrong += [v[0] for v in vs if CAMP.get(v[0], LAST[0]) != j.scan_camp]
        j.ack(vs[-1][0])
    problems = []
    if wrong:
        problems.append("votes back with another campaign: %r" % wrong)
    if depth != len(got):
        problems.append("pending() said %d, %d read" % (depth, len(got)))
    if got != sorted(set(got)):
        problems.append("pending seqs not strictly increasing: %r" % got)
    missing = [s for s in votes if s > acked and s not in got]
    # the capacity is never reached here: nothing is dropped
    if missing:
        problems.append("confirmed votes lost: %r" % missing)
    back = [s for s in got if s <= done]
    if back:
        problems.append("acked votes pending again: %r (acked %d)" % (back, done))
    extra = [s for s in got if s not in votes]
    if len(extra) > 1:
        problems.append("more than the one in-flight vote appeared: %r" % extra)
    last = max(votes + got + [0])
    s = j.append(1, 0, 2, 0)
    if s <= last:
        problems.append("seq %d reused (last %d)" % (s, last))
    unmount(dev)
    return problems


def main():
    discard(IMG)
    # Count the writes of a full run, then cut at each k.
    dev = mount()
    unmount(dev)
    copy(IMG, IMG + ".base")
    dev = mount()
    log = []
    scenario(dev, log)
    total = dev.writes
    unmount(dev)
    failures = []
    cuts = 0
    k = 1
    while k <= total:
        copy(IMG + ".base", IMG)
        dev = mount(k)
        log = []
        CAMP.clear()
        try:
            scenario(dev, log)
        except OSError:
            pass
        if not dev.dead:
            failures.append("k=%d: no cut happened" % k)
        unmount(dev)
        for p in check(log):
            failures.append("k=%d: %s" % (k, p))
        cuts += 1
        k += STEP
    os.remove(IMG + ".base")
    print(json.dumps({"cuts": cuts, "failures": failures[:20], "writes": total}))


main()
