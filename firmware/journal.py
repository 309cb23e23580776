# Durable vote journal on LittleFS.
#
# Votes live in small segment files /j/s/SSSSSSSS (hex seq of the first vote),
# PER_SEG records of 16 bytes each. A segment of 128 bytes stays inline in
# LittleFS metadata, so appending one vote costs one small metadata commit
# instead of rewriting a 4 KiB data block. LittleFS commits a file atomically
# at close, so a power cut leaves a segment with or without the new record;
# each record still carries a check byte and its position fixes its seq, so a
# damaged record is detected at boot and cut off.
#
# Record: seq u32, boot u32, t u48, packed level/scale/flags u8, check u8.
# The newest (tail) segment is never deleted, so its last seq is the floor
# for the next one: a seq is never reused, even with every vote acked.
# Fully acked segments are deleted; the acked position within the remaining
# ones (the head, the tail) is saved with the state, only when an ack leaves
# acked records on flash: one small commit per ack, so after any reboot no
# acked vote is sent again.
#
# A backlog (kiosk offline) is packed: once PACK_AFTER full segments wait,
# the oldest PACK_N of them are copied into one dense file in /j (written
# under a temporary name, then renamed: atomic in LittleFS), then removed
# from /j/s. About 18 bytes of flash per waiting vote instead of about 130.
#
# Campaigns (protocol version 2): /jcamp (proot + "camp") lists (first seq, campaign) entries,
# from that seq on the votes answer that campaign (0: satisfaction, also
# before the first entry). campaign.py writes it whole (one LittleFS commit)
# before the first vote of a new campaign, so each vote's campaign is
# durable with it and never depends on time; a batch never spans two
# campaigns.
#
# The bound comes from the filesystem found at boot (fit()); and a flash that
# fills anyway drops the oldest pending votes, counted in `dropped`, so a press
# is never refused for lack of space.
import os
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32

REC = 16
PER_SEG = 8
_REC = ">IIHIB"
# generation, boot, dropped, seq floor, pack first, pack count, acked, crc
_STATE = ">IIIIIIII"
PACK_AFTER = 64  # full segments waiting before packing starts
PACK_N = 32  # segments per packed file: 256 votes, one 4 KiB block
ENOSPC = 28
ENOENT = 2


def _check(buf):
    return crc32(buf[:15]) & 0xFF


def pack_lsf(level, scale, flags):
    return (level & 3) | ((scale - 2) & 3) << 2 | (flags & 7) << 4


class Journal:
    def __init__(self, base="", capacity=None, per_seg=PER_SEG, pack_after=PACK_AFTER,
                 pack_n=PACK_N):
        # base: where the kiosk's LittleFS is mounted ("" on the device).
        self.root = base + "/j/s"  # segments
        self.proot = base + "/j"  # packed and older segments, below packed_hi
        self.state_files = (base + "/jstate0", base + "/jstate1")
        self.limit = capacity  # None: what the filesystem holds (fit())
        # Until fit() asks the filesystem, only a full flash bounds it.
        self.capacity = max(capacity or 1 << 30, 2 * per_seg)
        self.per_seg = per_seg
        self.pack_after = pack_after
        self.pack_n = pack_n
        self.pack = (0, 0)  # (first seq, record count) of the last packed file
        self.packed_hi = 0  # files below this seq are in /j
        self.pack_failures = 0
        self.buf = bytearray(REC)
        self.seg_buf = bytearray(REC * per_seg)
        self.seg_mv = memoryview(self.seg_buf)
        self.boot = 0
        self.dropped = 0  # votes dropped because the journal was full
        self.corrupt = 0  # damaged records cut off at boot
        self.gen = 0
        self.floor = 1
        self.head = 0  # first seq of the oldest segment, 0 if none
        self.tail = 0  # first seq of the newest segment, 0 if none
        self.tail_n = 0  # records in the tail segment
        self.segments = 0
        self.records = 0  # records in all segment files, acked or not
        self.next_seq = 1
        self.acked = 0  # highest seq the server acknowledged (or dropped)
        self.saved_acked = 0
        self.skip_to = 0  # first seq after damaged records found at boot
        self.camps = []  # [(first seq, campaign), ...], increasing seqs
        self.campaign = 0  # the campaign of the next vote

    # -- state ---------------------------------------------------------
    def _load_state(self):
        best = None
        for name in self.state_files:
            try:
                with open(name, "rb") as f:
                    data = f.read()
                acked = 0
                if len(data) == 20:  # written before packing existed
                    gen, boot, dropped, floor, crc = struct.unpack(">IIIII", data)
                    p0 = pn = 0
                elif len(data) == 28:  # written before the acked position was kept
                    gen, boot, dropped, floor, p0, pn, crc = struct.unpack(">IIIIIII", data)
                elif len(data) == 32:
                    gen, boot, dropped, floor, p0, pn, acked, crc = struct.unpack(_STATE, data)
                else:
                    continue
                if crc32(data[:-4]) & 0xFFFFFFFF != crc:
                    continue
                if best is None or gen > best[0]:
                    best = (gen, boot, dropped, floor, (p0, pn), acked)
            except OSError:
                pass
        if best:
            self.gen, self.boot, self.dropped, self.floor, self.pack, self.saved_acked = best

    def _save_state(self):
        # Two slots written in turn: a torn write leaves the other intact.
        self.gen += 1
        head = struct.pack(">IIIIIII", self.gen, self.boot, self.dropped, self.floor,
                           self.pack[0], self.pack[1], self.acked)
        data = head + struct.pack(">I", crc32(head) & 0xFFFFFFFF)
        with open(self.state_files[self.gen & 1], "wb") as f:
            f.write(data)
        self.saved_acked = self.acked

    # -- boot ----------------------------------------------------------
    def _name(self, seq):
        # Every file below packed_hi lives in /j, the others in /j/s.
        return "%s/%08x" % (self.proot if seq < self.packed_hi else self.root, seq)

    def _entries(self, root):
        # (seq, size) of each journal file in root; other names are ignored.
        for entry in os.ilistdir(root):
            try:
                seq = int(entry[0], 16)
            except ValueError:
                continue
            if len(entry) > 3:
                size = entry[3]
            else:
                size = os.stat("%s/%s" % (root, entry[0]))[6]
            yield seq, size

    def open(self):
        """Recover after boot or power cut. Returns nothing; see stats()."""
        for d in (self.proot, self.root):
            try:
                os.mkdir(d)
            except OSError:
                pass
        self._load_state()
        try:  # the campaigns (see campaign.py): 6-byte entries
            with open(self.proot + "camp", "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        self.camps = [struct.unpack_from(">IH", data, i) for i in range(0, len(data) - 5, 6)]
        self.campaign = self.camps[-1][1] if self.camps else 0
        self._finish_pack()
        lo = hi = 0
        n = 0
        self.packed_hi = 0
        for seq, size in self._entries(self.proot):
            n += 1
            self.records += size // REC
            self.packed_hi = max(self.packed_hi, seq + size // REC)
            if lo == 0 or seq < lo:
                lo = seq
        for seq, size in self._entries(self.root):
            n += 1
            self.records += size // REC
            if lo == 0 or seq < lo:
                lo = seq
            if seq > hi:
                hi = seq
        self.segments = n
        self.head = lo
        self.tail = hi
        self.tail_n = 0
        if hi:
            self.tail_n = self._repair(hi)
            if self.tail_n == 0:
                os.remove(self._name(hi))
                self.segments -= 1
                if self.segments == 0:
                    self.head = self.tail = 0
                else:
                    self.tail = self._prev_segment(hi)
                    if self.tail >= self.packed_hi:
                        self.tail_n = self._repair(self.tail)
                    else:
                        self.tail = 0  # only packed files left: a new segment comes next
        if self.tail:
            self.next_seq = max(self.floor, self.tail + self.tail_n, self.skip_to)
        else:
            self.next_seq = max(self.floor, 1, self.skip_to, self.packed_hi)
        self.acked = (self.head - 1) if self.head else self.next_seq - 1
        # Acked records left on flash (head, tail) stay acked across reboots.
        self.acked = max(self.acked, min(self.saved_acked, self.next_seq - 1))
        self._free()
        self.fit()

    def fit(self):
        """Bound the journal by the filesystem it lives on. A packed vote
        takes 16 bytes, but the segments waiting to be packed, LittleFS
        metadata and its copies on write take much of a small flash: the
        bound counts a quarter of the blocks (16 blocks: 512 votes, where
        the flash holds about 850); a flash that fills first drops the
        oldest votes all the same (append)."""
        try:
            st = os.statvfs(self.proot)
        except OSError:
            return
        fit = (st[2] - 8) * (st[0] // REC) // 4
        if self.limit is not None:
            fit = min(self.limit, fit)
        self.capacity = max(fit, 2 * self.per_seg)

    def _finish_pack(self):
        # A pack cut short by a power cut: its temporary file goes; once the
        # packed file holds all its records, the segments it replaced go too.
        try:
            os.remove(self.proot + "/tmp")
        except OSError:
            pass
        p0, pn = self.pack
        if not pn:
            return
        try:
            if os.stat("%s/%08x" % (self.proot, p0))[6] != pn * REC:
                return
        except OSError:
            return
        s = p0
        while s < p0 + pn:
            try:
                os.remove("%s/%08x" % (self.root, s))
            except OSError:
                pass
            s += self.per_seg

    def _maybe_pack(self):
        """Move the oldest segments of a backlog to /j, full ones packed by
        pack_n into one dense file. /j keeps few entries, so its metadata
        stays small while /j/s churns."""
        while True:
            s0 = max(self.packed_hi, self.head)
            if not s0 or self.tail - s0 < self.pack_after * self.per_seg:
                return
            n = self._seg_count(s0)
            if n < 0:  # no file there: nothing below the next one is left
                self.packed_hi = self._next_segment(s0) or self.tail
                continue
            s = s0
            full = 0
            while full < self.pack_n and s < self.tail and self._seg_count(s) == self.per_seg:
                full += 1
                s += self.per_seg
            if full == self.pack_n:
                break
            # A short segment (after damaged records) at s: it and the full
            # ones before it move to /j as they are.
            if s == s0:
                if n == 0:
                    return  # an empty file cannot be the oldest but the tail
                s += n
            self._move(s0, s)
        tmp = self.proot + "/tmp"
        with open(tmp, "wb") as out:
            s = s0
            for _ in range(self.pack_n):
                with open(self._name(s), "rb") as f:
                    f.readinto(self.seg_buf)
                out.write(self.seg_buf)
                s += self.per_seg
        total = self.pack_n * self.per_seg
        self.pack = (s0, total)
        self._save_state()  # before the rename: boot then knows what to finish
        os.rename(tmp, "%s/%08x" % (self.proot, s0))
        s = s0
        while s < s0 + total:
            os.remove("%s/%08x" % (self.root, s))
            s += self.per_seg
        self.segments -= self.pack_n - 1
        self.packed_hi = s0 + total

    def _move(self, lo, hi):
        # Rename the segments in [lo, hi) from /j/s to /j, oldest first.
        s = lo
        while s < hi:
            n = self._seg_count(s)
            if n <= 0:
                return
            os.rename("%s/%08x" % (self.root, s), "%s/%08x" % (self.proot, s))
            self.packed_hi = s + n
            s += n

    def _prev_segment(self, seq):
        best = 0
        for root in (self.root, self.proot):
            for s, _ in self._entries(root):
                if best < s < seq:
                    best = s
        return best

    def _next_segment(self, seq):
        best = 0
        for root in (self.root, self.proot):
            for s, _ in self._entries(root):
                if s > seq and (best == 0 or s < best):
                    best = s
        return best

    def _repair(self, seg):
        """Keep the valid prefix of a segment; return its record count."""
        name = self._name(seg)
        with open(name, "rb") as f:
            data = f.read()
        good = 0
        while good + REC <= len(data):
            rec = data[good:good + REC]
            seq = struct.unpack_from(">I", rec, 0)[0]
            if rec[15] != _check(rec) or seq != seg + good // REC:
                break
            good += REC
        if good != len(data):
            self.records -= len(data) // REC - good // REC
            slots = (len(data) + REC - 1) // REC
            self.corrupt += slots - good // REC
            # The damaged seqs may have been thanked or sent: never reuse them.
            self.skip_to = max(self.skip_to, seg + slots)
            with open(name, "wb") as f:
                f.write(data[:good])
        return good // REC

    def start_boot(self):
        """Count a new boot and persist it with the seq floor."""
        self.boot += 1
        self.floor = self.next_seq
        self._save_state()
        return self.boot

    # -- votes -----------------------------------------------------------
    def pending(self):
        # Only the head segment can hold acked records (fully acked ones are
        # removed, but for the tail), and a segment's seqs are consecutive.
        if not self.head:
            return 0
        done = 0
        if self.acked >= self.head:
            done = min(self.acked - self.head + 1, max(self._seg_count(self.head), 0))
        return self.records - done

    def append(self, t, level, scale, flags):
        """Write a vote durably and return its seq. Raises OSError if the
        flash refuses it even after making room."""
        if self.pending() >= self.capacity:
            self._drop_oldest()
        while True:
            try:
                return self._append(t, level, scale, flags)
            except OSError as e:
                # Flash full: the oldest pending votes go, the new one is stored.
                if e.errno != ENOSPC or not self._drop_oldest():
                    raise

    def _append(self, t, level, scale, flags):
        seq = self.next_seq
        struct.pack_into(_REC, self.buf, 0, seq, self.boot, t >> 32, t & 0xFFFFFFFF,
                         pack_lsf(level, scale, flags))
        self.buf[15] = _check(self.buf)
        # A record's seq is its segment's name plus its position: after a gap
        # (damaged records skipped) the vote starts a new segment.
        new = not self.tail or self.tail_n >= self.per_seg or seq != self.tail + self.tail_n
        name = self._name(seq if new else self.tail)
        with open(name, "ab") as f:
            f.write(self.buf)
        old_tail = self.tail
        if new:
            self.tail = seq
            self.tail_n = 0
            self.segments += 1
            if not self.head:
                self.head = seq
        self.tail_n += 1
        self.records += 1
        self.next_seq = seq + 1
        if new and old_tail:
            self._free()  # the old tail may now be fully acked
            if self.pack_n:
                try:
                    self._maybe_pack()
                except OSError:
                    # The vote is stored; the pack is finished or retried later.
                    self.pack_failures += 1
                    self._finish_pack()
        return seq

    # -- campaigns ---------------------------------------------------------
    def campaign_at(self, seq):
        """(campaign of the vote seq, first seq of the next campaign or 0)."""
        c = 0
        for s, k in self.camps:
            if s > seq:
                return c, s
            c = k
        return c, 0

    def _seg_count(self, seg):
        if seg == self.tail:
            return self.tail_n
        try:
            return os.stat(self._name(seg))[6] // REC
        except OSError:
            return -1

    def _drop_oldest(self):
        """Drop the oldest segment (never the tail); False if none can go."""
        if not self.head or self.head == self.tail:
            return False
        n = self._seg_count(self.head)
        last = self.head + max(n, 0) - 1
        lost = last - max(self.acked, self.head - 1)
        if lost > 0:
            self.dropped += lost
        self.acked = max(self.acked, last)
        self.floor = max(self.floor, self.next_seq)
        try:
            self._save_state()
        except OSError as e:
            # No room even for the state: free the segment first, save after.
            if e.errno != ENOSPC:
                raise
            self._remove_head(n)
            try:
                self._save_state()
            except OSError:
                pass  # saved with the next state; the tail keeps the seq floor
            return True
        self._remove_head(n)
        return True

    def _remove_head(self, n):
        try:
            os.remove(self._name(self.head))
        except OSError as e:
            if e.errno != ENOENT:  # gone already is fine; a flash failure is not
                raise
        self.segments -= 1
        self.records -= max(n, 0)
        nxt = self.head + n if n > 0 else 0
        if nxt and nxt <= self.tail and self._seg_count(nxt) >= 0:
            self.head = nxt
        else:
            self.head = self._next_segment(self.head)

    def ack(self, seq):
        """The server committed every pending vote up to seq: free them."""
        if seq <= self.acked or seq >= self.next_seq:
            return 0
        before = self.pending()
        self.acked = seq
        self._free()
        if self.head and self.acked >= self.head and self.acked != self.saved_acked:
            # Acked records remain on flash: keep their position for the next boot.
            self._save_state()
        return before - self.pending()

    def _free(self):
        while self.head and self.head != self.tail:
            n = self._seg_count(self.head)
            if n >= 0 and self.head + n - 1 > self.acked:
                break
            self._remove_head(n)

    def scan(self, limit, sink):
        """Feed the oldest pending votes, all of one boot and one campaign,
        at most limit, to sink: sink.begin(boot, campaign) once, then
        sink.add(data, off) per 16-byte record (see REC). Reads through a
        buffer kept for the purpose."""
        self.n_out = 0
        self.scan_boot = None
        self.scan_camp = 0
        seg = self.head
        while seg and self.n_out < limit:
            try:
                with open(self._name(seg), "rb") as f:
                    n = self._scan_file(f, limit, sink)
            except OSError:
                nxt = self._next_segment(seg)
                if not nxt:
                    break
                seg = nxt
                continue
            if n < 0 or seg == self.tail:
                break
            seg = seg + n
            if n == 0 or seg > self.tail or self._seg_count(seg) < 0:
                seg = self._next_segment(seg - n)
        return self.n_out

    def _scan_file(self, f, limit, sink):
        # Returns the file's record count, or -1 once the batch is complete.
        buf = self.seg_buf
        total = 0
        while True:
            size = f.readinto(buf)
            if not size:
                return total
            for i in range(size // REC):
                off = i * REC
                seq, b = struct.unpack_from(">II", buf, off)
                if seq <= self.acked:
                    continue
                if buf[off + 15] != crc32(self.seg_mv[off:off + 15]) & 0xFF:
                    continue
                if self.scan_boot is None:
                    self.scan_boot = b
                    self.scan_camp, self.scan_end = self.campaign_at(seq)
                    sink.begin(b, self.scan_camp)
                elif b != self.scan_boot or self.scan_end and seq >= self.scan_end:
                    return -1
                sink.add(buf, off)
                self.n_out += 1
                if self.n_out >= limit:
                    return -1
            total += size // REC

    def read(self, limit):
        """Oldest pending votes as (boot, [(seq, t, level, scale, flags), ...]),
        all of one campaign (then in scan_camp)."""
        sink = _ListSink()
        self.scan(limit, sink)
        return sink.boot, sink.votes

    def stats(self):
        return {
            "pending": self.pending(), "segments": self.segments,
            "first": max(self.acked + 1, self.head) if self.head else 0,
            "last": self.next_seq - 1, "acked": self.acked, "capacity": self.capacity,
            "dropped": self.dropped, "corrupt": self.corrupt, "boot": self.boot,
        }


def unpack(data, off):
    """A record as (seq, boot, t, level, scale, flags)."""
    seq, boot, th, tl, lsf = struct.unpack_from(_REC, data, off)
    return seq, boot, (th << 32) | tl, lsf & 3, ((lsf >> 2) & 3) + 2, lsf >> 4


class _ListSink:
    def __init__(self):
        self.boot = None
        self.votes = []

    def begin(self, boot, campaign):
        self.boot = boot

    def add(self, data, off):
        seq, _, t, level, scale, flags = unpack(data, off)
        self.votes.append((seq, t, level, scale, flags))
