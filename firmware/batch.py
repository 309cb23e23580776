# Vote batches (protocol version 2: one campaign per batch) encoded straight
# from journal records into one buffer kept for the connection: no per-vote
# objects on a small heap. The bytes are those of server_wire.encode_batch
# with a campaign (tests/mpy/journal_rules.py compares them).
import struct

import kiosk_wire as w

try:
    from binascii import crc32
except ImportError:  # pragma: no cover
    from zlib import crc32

MAX_BATCH = 100  # votes per batch the kiosk sends, whatever the config asks


class BatchBuffer:
    def __init__(self, device_id, anchor_of):
        self.dev = device_id.encode()
        self.anchor_of = anchor_of  # boot -> (boot_ms, utc_ms) or None
        self.buf = bytearray(w.batch_size(len(self.dev), MAX_BATCH, True))
        self.mv = memoryview(self.buf)
        self.reset()

    def reset(self):
        self.n = 0
        self.boot = None
        self.first = self.last = 0
        self.anchored = False

    def begin(self, boot, campaign=0):
        b = self.buf
        L = len(self.dev)
        anchor = self.anchor_of(boot)
        struct.pack_into(">BBBB", b, 0, w.BATCH_VERSION, w.KIND_VOTES,
                         w.H_ANCHOR if anchor else 0, L)
        for i in range(L):
            b[4 + i] = self.dev[i]
        off = 4 + L
        struct.pack_into(">I", b, off, boot)
        off += 6  # the count is written by finish()
        struct.pack_into(">H", b, off, campaign)
        off += 2
        if anchor:
            bms, ums = anchor
            struct.pack_into(">HIHI", b, off, bms >> 32, bms & w.MAX_U32, ums >> 32,
                             ums & w.MAX_U32)
            off += w.ANCHOR_SIZE
        self.anchored = bool(anchor)
        self.boot = boot
        self.off = off
        self.n = 0

    def add(self, rec, roff):
        # Journal record: seq(4) boot(4) t(6) lsf(1) check(1); wire vote:
        # seq(4) t(6) level scale flags.
        b = self.buf
        o = self.off
        for i in range(4):
            b[o + i] = rec[roff + i]
        for i in range(6):
            b[o + 4 + i] = rec[roff + 8 + i]
        lsf = rec[roff + 14]
        b[o + 10] = lsf & 3
        b[o + 11] = ((lsf >> 2) & 3) + 2
        b[o + 12] = lsf >> 4
        seq = struct.unpack_from(">I", b, o)[0]
        if not self.n:
            self.first = seq
        self.last = seq
        self.off = o + w.VOTE_SIZE
        self.n += 1

    def finish(self):
        """The encoded batch, a view into the buffer (valid until reused)."""
        struct.pack_into(">H", self.buf, 4 + len(self.dev) + 4, self.n)
        end = self.off
        struct.pack_into(">I", self.buf, end, crc32(self.mv[:end]) & 0xFFFFFFFF)
        return self.mv[:end + w.CRC_SIZE]
