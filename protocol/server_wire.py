# Borne wire protocol (versions 1 and 2), the sync server's half: decoders of what kiosks
# send, encoders of what the server sends. The kiosk's half (constants,
# encoders of what a kiosk sends, decoders of what it receives) is
# kiosk_wire, the only part copied onto a kiosk; its names are re-exported
# here, so the server sees the whole protocol through this module. Keep to the
# MicroPython subset: the shared vectors run it on both interpreters.
# PROTOCOL.md describes every byte.
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - ports built without crc32
    from zlib import crc32

from protocol import kiosk_wire  # noqa: F401 - the kiosk's half, as a module
from protocol.kiosk_wire import (
    _ACK,
    _ANCHOR,
    _BATCH,
    _CRC,
    _HEAD,
    _VOTE,
    ANCHOR_SIZE,
    BATCH_SIZE,
    BATCH_VERSION,
    CLOCK_STATES,
    CRC_SIZE,
    F_ALL,
    F_BURST,
    F_CLOCK_UNKNOWN,
    F_OUTSIDE_HOURS,
    H_ANCHOR,
    HEAD_SIZE,
    KIND_ACK,
    KIND_VOTES,
    MAX_ID_LEN,
    MAX_U32,
    MAX_U48,
    MAX_VOTES,
    TOPIC_ROOT,
    TOPICS,
    VERSION,
    VOTE_SIZE,
    ChecksumError,
    FormatError,
    TruncatedError,
    VersionError,
    WireError,
    _crc_ok,
    _device,
    _hours,
    _int,
    _load,
    _open,
    _tz,
    batch_size,
    decode_ack,
    decode_config,
    decode_time,
    encode_json,
    topic,
    valid_device_id,
)
from protocol.ota_wire import TOPICS as OTA_TOPICS

# Version 2's campaign field, known to the kiosk only through batch_size and
# its batch encoder (firmware/batch.py): fewer names on a small heap.
_CAMPAIGN = ">H"  # the batch's campaign, 0 = satisfaction
CAMPAIGN_SIZE = 2
MAX_CAMPAIGN = 0xFFFF


# Errors only the server's decoders raise: kept out of the kiosk's half.
class LevelError(WireError):
    pass


class SeqOrderError(WireError):
    pass


def parse_topic(t):
    """Return (device_id, name) for a Borne topic, or None."""
    if not t.startswith(TOPIC_ROOT):
        return None
    rest = t[len(TOPIC_ROOT):].split("/")
    if (len(rest) != 2 or rest[1] not in TOPICS and rest[1] not in OTA_TOPICS
            or not valid_device_id(rest[0])):
        return None
    return rest[0], rest[1]


class Batch:
    """A decoded vote batch. votes: list of (seq, t_ms, level, scale, flags);
    campaign: 0 for satisfaction votes (always, in a version 1 batch), else
    the consultation the answers belong to."""

    def __init__(self, device_id, boot, votes, anchor=None, campaign=0, version=BATCH_VERSION):
        self.device_id = device_id
        self.boot = boot
        self.votes = votes
        self.anchor = anchor  # None or (boot_ms, utc_ms)
        self.campaign = campaign
        self.version = version

    def __eq__(self, other):
        return (
            isinstance(other, Batch)
            and self.device_id == other.device_id
            and self.boot == other.boot
            and self.anchor == other.anchor
            and self.campaign == other.campaign
            and list(self.votes) == list(other.votes)
        )

    def __repr__(self):
        return "Batch(%r, %d, %d votes, anchor=%r, campaign=%d, v%d)" % (
            self.device_id, self.boot, len(self.votes), self.anchor, self.campaign,
            self.version)


def _check_vote(seq, t, level, scale, flags, prev):
    if not 0 <= seq <= MAX_U32:
        raise FormatError("seq out of range: %r" % (seq,))
    if prev is not None and seq <= prev:
        raise SeqOrderError("seq %d not above %d" % (seq, prev))
    if not 0 <= t <= MAX_U48:
        raise FormatError("time out of range: %r" % (t,))
    if not 2 <= scale <= 4:
        raise FormatError("scale %d not in 2..4" % scale)
    if not 0 <= level < scale:
        raise LevelError("level %d outside scale %d" % (level, scale))
    if flags & ~F_ALL:
        raise FormatError("unknown vote flags 0x%02x" % flags)


def _head(kind, dev, hflags, version=VERSION):
    if not valid_device_id(dev):
        raise FormatError("bad device id")
    b = dev.encode()
    return struct.pack(_HEAD, version, kind, hflags, len(b)) + b


def _seal(buf):
    return buf + struct.pack(_CRC, crc32(buf) & 0xFFFFFFFF)


def encode_batch(device_id, boot, votes, anchor=None, campaign=None):
    """votes: sequence of (seq, t_ms, level, scale, flags), seq increasing.
    campaign None: a version 1 batch (no campaign, satisfaction votes);
    0..65535: a version 2 batch of that campaign (0 = satisfaction)."""
    if not 0 <= boot <= MAX_U32:
        raise FormatError("boot out of range")
    if len(votes) > MAX_VOTES:
        raise FormatError("more than %d votes" % MAX_VOTES)
    if campaign is not None and not 0 <= campaign <= MAX_CAMPAIGN:
        raise FormatError("campaign out of range")
    version = 1 if campaign is None else BATCH_VERSION
    out = bytearray(_head(KIND_VOTES, device_id, H_ANCHOR if anchor else 0, version))
    out += struct.pack(_BATCH, boot, len(votes))
    if campaign is not None:
        out += struct.pack(_CAMPAIGN, campaign)
    if anchor:
        bms, ums = anchor
        if not (0 <= bms <= MAX_U48 and 0 <= ums <= MAX_U48):
            raise FormatError("anchor out of range")
        out += struct.pack(_ANCHOR, bms >> 32, bms & MAX_U32, ums >> 32, ums & MAX_U32)
    prev = None
    for v in votes:
        seq, t, level, scale, flags = v
        _check_vote(seq, t, level, scale, flags, prev)
        prev = seq
        out += struct.pack(_VOTE, seq, t >> 32, t & MAX_U32, level, scale, flags)
    return bytes(_seal(out))


def decode_batch(data):
    """Decode a vote batch (version 1 or 2) whole, or raise a WireError subclass."""
    idlen = _open(data, KIND_VOTES, BATCH_VERSION)
    version = data[0]
    hflags = data[2]
    if hflags & ~H_ANCHOR:
        raise FormatError("unknown header flags 0x%02x" % hflags)
    off = HEAD_SIZE + idlen
    extra = CAMPAIGN_SIZE if version > 1 else 0
    if len(data) < off + BATCH_SIZE + extra:
        raise TruncatedError("batch header cut")
    boot, count = struct.unpack_from(_BATCH, data, off)
    if count > MAX_VOTES:
        raise FormatError("count %d above %d" % (count, MAX_VOTES))
    anchor = bool(hflags & H_ANCHOR)
    _crc_ok(data, batch_size(idlen, count, anchor, version))
    dev = _device(data, idlen)
    off += BATCH_SIZE
    campaign = 0
    if extra:
        campaign = struct.unpack_from(_CAMPAIGN, data, off)[0]
        off += extra
    if anchor:
        bh, bl, uh, ul = struct.unpack_from(_ANCHOR, data, off)
        anchor = ((bh << 32) | bl, (uh << 32) | ul)
        off += ANCHOR_SIZE
    else:
        anchor = None
    votes = []
    prev = None
    for _ in range(count):
        seq, th, tl, level, scale, flags = struct.unpack_from(_VOTE, data, off)
        t = (th << 32) | tl
        _check_vote(seq, t, level, scale, flags, prev)
        prev = seq
        votes.append((seq, t, level, scale, flags))
        off += VOTE_SIZE
    return Batch(dev, boot, votes, anchor, campaign, version)


def encode_ack(device_id, seq):
    if not 0 <= seq <= MAX_U32:
        raise FormatError("seq out of range")
    return bytes(_seal(_head(KIND_ACK, device_id, 0) + struct.pack(_ACK, seq)))


def encode_time(utc_ms):
    return encode_json({"utc_ms": utc_ms})


def decode_status(data):
    m = _load(data)
    if m.get("state") not in ("online", "offline"):
        raise FormatError("state must be online or offline")
    return m


def decode_telemetry(data):
    m = _load(data)
    for key in ("boot", "uptime_s", "journal"):
        _int(m, key, 0, MAX_U48)
    if m.get("clock") not in CLOCK_STATES:
        raise FormatError("clock must be one of %s" % (CLOCK_STATES,))
    a = m.get("anchor")
    if a is not None:
        if (not isinstance(a, list) or len(a) != 3
                or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_U48
                           for x in a)):
            raise FormatError("anchor must be [boot, boot_ms, utc_ms]")
    return m
