# Journal bounds and kiosk press rules under the MicroPython unix port:
#   micropython tests/mpy/journal_rules.py ROOT IMG
# Prints one JSON line of named results that tests/test_firmware_journal.py checks.
import json
import os
import sys

import vfs

ROOT = sys.argv[1]
IMG = sys.argv[2]
sys.path[:0] = [ROOT + "/firmware", ROOT + "/protocol", ROOT + "/simulator/mpy", ROOT]
import board_base  # noqa: E402
import campaign  # noqa: E402
import flash  # noqa: E402
import journal  # noqa: E402

OPTS = {"readsize": 32, "progsize": 32, "lookahead": 32}
out = {}


def mount():
    dev = flash.FileFlash(IMG, 64)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev, **OPTS)
    vfs.mount(vfs.VfsLfs2(dev, mtime=False, **OPTS), "/fl")
    return dev


def fresh():
    try:
        os.remove(IMG)
    except OSError:
        pass
    return mount()


def unmount(dev):
    vfs.umount("/fl")
    dev.close()


# Full journal: the oldest segment goes, counted; voting never stops.
dev = fresh()
j = journal.Journal("/fl", capacity=32, per_seg=8)
j.open()
j.start_boot()
for i in range(100):
    j.append(1763900000000 + i, 1, 2, 0)
out["full_pending"] = j.pending()
out["full_dropped"] = j.dropped
b, vs = j.read(100)
out["full_first"] = vs[0][0]
out["full_last"] = vs[-1][0]
unmount(dev)
dev = mount()
j = journal.Journal("/fl", capacity=32, per_seg=8)
j.open()
out["dropped_after_boot"] = j.dropped
unmount(dev)

# Batches encoded from journal records are byte for byte server_wire's.
import batch  # noqa: E402

from protocol import server_wire  # noqa: E402

dev = fresh()
j = journal.Journal("/fl", per_seg=8)
j.open()
j.start_boot()
for i in range(30):
    j.append((1 << 40) + i * 977 if i % 3 else 1234 + i, i % 3, 3, (i % 3 == 0) | (i & 4))
same = []
for anchor in (None, (60000, 1763900000000)):
    for limit in (1, 7, 30, 100):
        bb = batch.BatchBuffer("kiosk-7", lambda boot, a=anchor: a)
        j.scan(limit, bb)
        boot, votes = j.read(limit)
        same.append(bytes(bb.finish()) == server_wire.encode_batch("kiosk-7", boot, votes, anchor,
                                                                   0))
j.ack(12)
bb = batch.BatchBuffer("k", lambda boot: None)
j.scan(5, bb)
same.append(bytes(bb.finish()) == server_wire.encode_batch("k", 1, j.read(5)[1], None, 0))
same.append(j.read(5)[1][0][0] == 13)
out["batch_same"] = same
unmount(dev)

# Campaigns: each vote keeps the campaign set before it, across a reboot;
# batches split at every change; entries whose votes are acked are forgotten.
dev = fresh()
j = journal.Journal("/fl", per_seg=4)
j.open()
j.start_boot()
plan = [0, 0, 5, 5, 5, 0, 9, 9, 9, 9, 9, 0]
for i in range(len(plan)):
    campaign.set_campaign(j, plan[i])
    j.append(1763900000000 + i, i % 2, 2, 0)
campaign.set_campaign(j, 3)  # no vote under it: replaced by the next change
campaign.set_campaign(j, 7)
unmount(dev)
dev = mount()
j = journal.Journal("/fl", per_seg=4)
j.open()
out["camp_after_boot"] = j.campaign
groups = []
camp_same = []
while True:
    bb = batch.BatchBuffer("k", lambda boot: None)
    n = j.scan(100, bb)
    boot, vs = j.read(100)
    if not vs:
        break
    groups.append([j.scan_camp, [v[0] for v in vs]])
    camp_same.append(bytes(bb.finish()) == server_wire.encode_batch("k", boot, vs, None,
                                                                     j.scan_camp))
    j.ack(vs[-1][0])
out["camp_groups"] = groups
out["camp_same"] = camp_same
out["camp_entries"] = [list(e) for e in j.camps]
campaign.set_campaign(j, 0)  # every vote acked: only what the next votes need is kept
out["camp_entries_acked"] = [list(e) for e in j.camps]
unmount(dev)

# A damaged tail record is cut off at boot, and its seq is not reused.
dev = fresh()
j = journal.Journal("/fl", per_seg=8)
j.open()
j.start_boot()
for i in range(5):
    j.append(1763900000000 + i, 0, 2, 0)
name = j._name(j.tail)
with open(name, "rb") as f:
    data = bytearray(f.read())
data[4 * 16 + 7] ^= 0xFF  # flip bits inside the fifth record
with open(name, "wb") as f:
    f.write(data)
unmount(dev)
dev = mount()
j = journal.Journal("/fl", per_seg=8)
j.open()
out["torn_corrupt"] = j.corrupt
out["torn_pending"] = [j.pending(), len(j.read(100)[1])]
out["torn_next"] = j.append(1, 0, 2, 0)
unmount(dev)

# Packing a backlog that holds a short segment (damaged record cut at boot).
def pj():
    return journal.Journal("/fl", per_seg=8, pack_after=3, pack_n=2)


def all_pending(j):
    # read() gives one boot at a time: step over each, then put acked back.
    saved = j.acked
    seqs = []
    while True:
        vs = j.read(500)[1]
        if not vs:
            break
        seqs += [v[0] for v in vs]
        j.acked = vs[-1][0]
    j.acked = saved
    return seqs


dev = fresh()
j = pj()
j.open()
j.start_boot()
for i in range(20):
    j.append(1763900000000 + i, 0, 2, 0)
name = j._name(j.tail)
with open(name, "rb") as f:
    data = bytearray(f.read())
data[-3] ^= 0x55  # the last record (seq 20)
with open(name, "wb") as f:
    f.write(data)
unmount(dev)
dev = mount()
j = pj()
j.open()
j.start_boot()
for i in range(60):
    j.append(1763900000000 + i, 1, 2, 0)
expect = list(range(1, 20)) + list(range(21, 81))
got = all_pending(j)
packed = [(s, size // 16) for s, size in j._entries("/fl/j")]
out["pack_short"] = [got == expect, j.pending() == len(expect), (17, 3) in packed]
unmount(dev)
dev = mount()
j = pj()
j.open()
got = all_pending(j)
j.ack(50)
rest = all_pending(j)
out["pack_short"] += [got == expect, rest == list(range(51, 81)), j.pending() == 30]
unmount(dev)

# Kiosk rules: lockout, bursts, opening hours, thank-you only when durable.
import kiosk_app  # noqa: E402


class Board(board_base.Board):
    fs_base = "/fl"

    def __init__(self):
        super().__init__()
        self.thanked = []

    def thanks(self, seq, level, flags):
        self.thanked.append((seq, flags))

    def log(self, msg):
        pass


dev = fresh()
board = Board()
k = kiosk_app.Kiosk(board)
k.start()
r = [k.press(0)[0], k.press(1)[0]]
out["lockout"] = r
out["suppressed"] = k.suppressed
k.settings.config["lockout_s"] = 0
flags = []
for i in range(12):
    kind, seq = k.press(i % 4)
    flags.append(board.thanked[-1][1] if kind == "vote" else None)
out["burst_flags"] = flags
k.press(9)
out["bad_button_thanked"] = len(board.thanked)
# Opening hours: Monday 9:00-12:00 local, UTC+60 min.
k.settings.config["hours"] = {0: [(540, 720)]}
k.settings.config["tz"] = [(0, 60)]
k.last_vote_ms = None
k.recent = [None] * kiosk_app.BURST_N
monday_10h_local = 1763942400000 + 9 * 3600000  # Mon 2025-11-24 09:00 UTC
k.clock.set_utc(monday_10h_local, "server")
k.press(0)
out["open_flags"] = board.thanked[-1][1]
k.clock.set_utc(monday_10h_local + 4 * 3600000, "server")
k.press(0)
out["closed_flags"] = board.thanked[-1][1]
unmount(dev)


# Debounce: a press counts once the pin reads active for 2 polls in a row;
# contact bounce around a press or a release gives no extra press.
class Pins(board_base.Board):
    def __init__(self, samples):
        self.samples = samples
        super().__init__(pins=(0,))

    def make_button(self, pin):
        return pin

    def read_button(self, button):
        return self.samples.pop(0) if self.samples else False


bounce = [1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0]
p = Pins([bool(x) for x in bounce])
presses = 0
for _ in range(len(bounce) + 2):
    presses += len(p.poll_buttons())
out["debounced_presses"] = presses

# Reconnection delays: doubling from 1 s, capped at 5 min, up to 25% jitter.
import sync  # noqa: E402

d = sync.BACKOFF_MIN
delays = [d]
for _ in range(10):
    d = sync.next_backoff(d)
    delays.append(d)
out["backoff"] = delays
j = [sync.jitter(8) for _ in range(300)]
out["jitter"] = [min(j), max(j)]
os.remove(IMG)
print(json.dumps(out))
