# Borne wire protocol (versions 1 and 2), the kiosk's half: constants, the
# encoders of what a kiosk sends and the decoders of what it receives. The only protocol file
# copied onto a kiosk (flat, imported as `kiosk_wire`); the server's half,
# server_wire, imports it. Keep to the MicroPython subset: no typing, no
# dataclasses, no f-strings. PROTOCOL.md describes every byte.
import json
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - ports built without crc32
    from zlib import crc32

VERSION = 1  # JSON messages and acks; vote batches of version 1 have no campaign
BATCH_VERSION = 2  # the vote batches this kiosk sends: a campaign per batch
KIND_VOTES = 0x56  # 'V'
KIND_ACK = 0x41  # 'A'

MAX_VOTES = 500
MAX_ID_LEN = 32
MAX_U48 = (1 << 48) - 1
MAX_U32 = 0xFFFFFFFF

# Vote flags.
F_CLOCK_UNKNOWN = 0x01  # t is milliseconds since boot, not UTC
F_OUTSIDE_HOURS = 0x02  # pressed outside the site's opening hours
F_BURST = 0x04  # part of a suspected burst of presses
F_ALL = F_CLOCK_UNKNOWN | F_OUTSIDE_HOURS | F_BURST

# Batch header flags.
H_ANCHOR = 0x01  # an anchor (boot_ms, utc_ms) for the batch's boot follows

_HEAD = ">BBBB"  # version, kind, header flags, device id length
_BATCH = ">IH"  # boot, count
_ANCHOR = ">HIHI"  # boot_ms (48 bits), utc_ms (48 bits)
_VOTE = ">IHIBBB"  # seq, t high 16, t low 32, level, scale, flags
_ACK = ">I"  # acked seq
_CRC = ">I"
VOTE_SIZE = 13
HEAD_SIZE = 4
BATCH_SIZE = 6
ANCHOR_SIZE = 12
CRC_SIZE = 4

TOPIC_ROOT = "borne/v1/"
TOPICS = ("votes", "ack", "status", "telemetry", "config", "time")
CLOCK_STATES = ("unknown", "ntp", "server", "rtc")


class WireError(ValueError):
    """Base of every decoding error: the message is refused whole."""


class VersionError(WireError):
    pass


class ChecksumError(WireError):
    pass


class TruncatedError(WireError):
    pass


class FormatError(WireError):
    pass


def valid_device_id(dev):
    if not isinstance(dev, str) or not 0 < len(dev) <= MAX_ID_LEN:
        return False
    for c in dev:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "-_"):
            return False
    return True


def topic(dev, name):
    return TOPIC_ROOT + dev + "/" + name


def batch_size(dev_len, count, anchor, version=BATCH_VERSION):
    # Version 2 adds the campaign (u16) after the count.
    return (HEAD_SIZE + dev_len + BATCH_SIZE + (2 if version > 1 else 0)
            + (ANCHOR_SIZE if anchor else 0) + count * VOTE_SIZE + CRC_SIZE)


def _open(data, kind, top=VERSION):
    """Check version (1..top), kind and the device id length; return that length."""
    n = len(data)
    if n < 1:
        raise TruncatedError("empty message")
    if not 1 <= data[0] <= top:
        raise VersionError("version %d, expected 1..%d" % (data[0], top))
    if n < HEAD_SIZE:
        raise TruncatedError("header cut at %d bytes" % n)
    if data[1] != kind:
        raise FormatError("message kind 0x%02x, expected 0x%02x" % (data[1], kind))
    idlen = data[3]
    if not 0 < idlen <= MAX_ID_LEN:
        raise FormatError("device id length %d" % idlen)
    if n < HEAD_SIZE + idlen:
        raise TruncatedError("device id cut")
    return idlen


def _crc_ok(data, end):
    if len(data) > end:
        raise FormatError("%d bytes after the end" % (len(data) - end))
    if len(data) < end:
        raise TruncatedError("%d bytes, expected %d" % (len(data), end))
    want = struct.unpack_from(_CRC, data, end - CRC_SIZE)[0]
    if crc32(bytes(data[: end - CRC_SIZE])) & 0xFFFFFFFF != want:
        raise ChecksumError("checksum mismatch")


def _device(data, idlen):
    try:
        dev = bytes(data[HEAD_SIZE:HEAD_SIZE + idlen]).decode()
    except (UnicodeError, ValueError):
        raise FormatError("device id not text") from None
    if not valid_device_id(dev):
        raise FormatError("bad device id")
    return dev


def decode_ack(data):
    """Return (device_id, acked_seq): every vote of the acknowledged batch
    with seq <= acked_seq is committed on the server."""
    idlen = _open(data, KIND_ACK)
    if data[2]:
        raise FormatError("unknown header flags 0x%02x" % data[2])
    end = HEAD_SIZE + idlen + 4 + CRC_SIZE
    _crc_ok(data, end)
    return _device(data, idlen), struct.unpack_from(_ACK, data, HEAD_SIZE + idlen)[0]


# JSON control messages: status, telemetry, config, time.

def _load(data):
    try:
        if not isinstance(data, str):
            data = bytes(data).decode()
        msg = json.loads(data)
    except (ValueError, UnicodeError):
        raise FormatError("not JSON") from None
    if not isinstance(msg, dict):
        raise FormatError("not a JSON object")
    if msg.get("v") != VERSION:
        raise VersionError("version %r, expected %d" % (msg.get("v"), VERSION))
    return msg


def _int(msg, key, lo, hi, default=None):
    if key not in msg:
        if default is None:
            raise FormatError("missing %s" % key)
        return default
    v = msg[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise FormatError("%s must be an integer in %d..%d" % (key, lo, hi))
    return v


def encode_json(msg):
    m = {"v": VERSION}
    for k in msg:
        m[k] = msg[k]
    return json.dumps(m).encode()


def decode_time(data):
    """Server time message: {"v":1,"utc_ms":N}. Return utc_ms."""
    return _int(_load(data), "utc_ms", 946684800000, MAX_U48)  # not before 2000


def _hours(h):
    # {"0": [[open_min, close_min], ...], ...}: weekday 0 = Monday, local minutes.
    if not isinstance(h, dict):
        raise FormatError("hours must be an object")
    out = {}
    for day in h:
        if day not in ("0", "1", "2", "3", "4", "5", "6"):
            raise FormatError("hours: bad weekday %r" % (day,))
        spans = h[day]
        if not isinstance(spans, list):
            raise FormatError("hours: spans must be a list")
        ok = []
        for s in spans:
            if (not isinstance(s, list) or len(s) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in s)
                    or not 0 <= s[0] < s[1] <= 1440):
                raise FormatError("hours: bad span %r" % (s,))
            ok.append((s[0], s[1]))
        out[int(day)] = ok
    return out


def _tz(tz):
    # [[utc_s_from, offset_min], ...] sorted: the site's UTC offsets ahead.
    if not isinstance(tz, list):
        raise FormatError("tz must be a list")
    prev = None
    out = []
    for e in tz:
        if (not isinstance(e, list) or len(e) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in e)
                or not -1080 <= e[1] <= 1080):
            raise FormatError("tz: bad entry %r" % (e,))
        if prev is not None and e[0] <= prev:
            raise FormatError("tz: entries not increasing")
        prev = e[0]
        out.append((e[0], e[1]))
    return out


def decode_config(data):
    """Retained config. Return a dict with validated, defaulted fields."""
    m = _load(data)
    site = m.get("site")
    if not isinstance(site, str) or not 0 < len(site) <= 64:
        raise FormatError("site must be a non-empty string")
    campaign = _int(m, "campaign", 0, 0xFFFF, 0)
    return {
        "site": site,
        "buttons": _int(m, "buttons", 2, 4),
        "campaign": campaign,
        "answers": _int(m, "answers", 2, 4) if campaign else 0,
        "lockout_s": _int(m, "lockout_s", 0, 3600, 5),
        "sync_s": _int(m, "sync_s", 1, 86400, 30),
        "telemetry_s": _int(m, "telemetry_s", 10, 86400, 300),
        "batch": _int(m, "batch", 1, MAX_VOTES, 50),
        "hours": _hours(m.get("hours", {})),
        "tz": _tz(m.get("tz", [])),
    }
