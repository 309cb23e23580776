# Firmware updates over the air: the kiosk's half of the messages of
# PROTOCOL.md's "Updates over the air" (the server's encoders and decoders
# are in ota_server_wire.py). Runs under CPython and MicroPython; the kiosk
# imports it only while an update is offered.
#   ota    server -> kiosk, retained JSON: the offered release (or empty: none)
#   fetch  kiosk -> server, JSON: send me `n` bytes of release `id` from `off`
#   chunk  server -> kiosk, binary: release id (8 bytes), offset (u32), bytes
#   update kiosk -> server, retained JSON: the kiosk's firmware and update state
import json
import struct

VERSION = 1
TOPICS = ("ota", "chunk", "fetch", "update")  # beside kiosk_wire.TOPICS
_CHUNK_HEAD = ">8sI"
CHUNK_HEAD_SIZE = 12
MAX_CHUNK = 2048  # bytes of firmware in one chunk message
MAX_MANIFEST = 3072  # the offer stays under the kiosk's 4,096-byte MQTT packet
STATES = ("idle", "downloading", "installed", "trial", "ok", "refused", "failed",
          "rolled_back")
DEFAULT_BOOTS = 3  # boots a new firmware gets to report healthy ...
DEFAULT_TRIAL_S = 600  # ... and seconds from its first boot


class OtaError(ValueError):
    """A malformed update message: refused whole."""


def _hexid(rid):
    if not isinstance(rid, str) or len(rid) != 16 or rid.strip("0123456789abcdef"):
        raise OtaError("release id: 16 lowercase hex digits")
    return rid


def _json(data):
    try:
        m = json.loads(bytes(data))
    except ValueError:
        raise OtaError("not JSON") from None
    if not isinstance(m, dict) or m.get("v") != VERSION:
        raise OtaError("not a version %d update message" % VERSION)
    return m


def _int(m, key, lo, hi):
    x = m.get(key)
    if not isinstance(x, int) or isinstance(x, bool) or not lo <= x <= hi:
        raise OtaError("%s: an integer in %d..%d" % (key, lo, hi))
    return x


def decode_offer(data):
    """dict with id, manifest (bytes), sig (bytes), chunk, boots, trial_s;
    None for an empty payload (no release offered)."""
    if not data:
        return None
    m = _json(data)
    man = m.get("manifest")
    sig = m.get("sig")
    if not isinstance(man, str) or not 0 < len(man) <= MAX_MANIFEST:
        raise OtaError("manifest: a string of 1..%d characters" % MAX_MANIFEST)
    if not isinstance(sig, str) or len(sig) != 128 or sig.strip("0123456789abcdef"):
        raise OtaError("sig: 128 lowercase hex digits")
    return {"id": _hexid(m.get("id")), "manifest": man.encode(),
            "sig": bytes(int(sig[i:i + 2], 16) for i in range(0, 128, 2)),
            "chunk": _int(m, "chunk", 64, MAX_CHUNK), "boots": _int(m, "boots", 1, 20),
            "trial_s": _int(m, "trial_s", 10, 86400)}


def encode_fetch(rid, off, n):
    return json.dumps({"v": VERSION, "id": rid, "off": off, "n": n}).encode()


def decode_chunk(data):
    """(release id, offset, memoryview of the bytes)."""
    if len(data) < CHUNK_HEAD_SIZE or len(data) > CHUNK_HEAD_SIZE + MAX_CHUNK:
        raise OtaError("chunk of %d bytes" % len(data))
    raw, off = struct.unpack_from(_CHUNK_HEAD, data, 0)
    rid = "".join("%02x" % b for b in raw)
    return rid, off, memoryview(data)[CHUNK_HEAD_SIZE:]


def encode_update(fw, state, rid=None, got=0, size=0, error=None):
    return json.dumps({"v": VERSION, "fw": fw, "state": state, "id": rid, "got": got,
                       "size": size, "error": error}).encode()
