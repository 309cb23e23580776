"""The server's half of the update messages (protocol/ota_wire.py holds the
kiosk's): the offer and chunk it sends, the fetch and update it reads. Runs
under CPython and MicroPython (the vectors are checked on both)."""
import json
import struct

from protocol.ota_wire import (
    _CHUNK_HEAD,
    CHUNK_HEAD_SIZE,
    DEFAULT_BOOTS,
    DEFAULT_TRIAL_S,
    MAX_CHUNK,
    STATES,
    VERSION,
    OtaError,
    _hexid,
    _int,
    _json,
)

__all__ = ["CHUNK_HEAD_SIZE", "OtaError", "decode_fetch", "decode_update", "encode_chunk",
           "encode_offer"]


def encode_offer(rid, manifest, sig, chunk=MAX_CHUNK, boots=DEFAULT_BOOTS,
                 trial_s=DEFAULT_TRIAL_S):
    """The retained offer of a release: `manifest` the signed bytes, `sig`
    the Ed25519 signature (64 bytes)."""
    return json.dumps({"v": VERSION, "id": rid, "manifest": manifest.decode(),
                       "sig": "".join("%02x" % b for b in sig), "chunk": chunk,
                       "boots": boots, "trial_s": trial_s}).encode()


def decode_fetch(data):
    """(release id, offset, length)."""
    m = _json(data)
    return (_hexid(m.get("id")), _int(m, "off", 0, 0x7FFFFFFF),
            _int(m, "n", 1, MAX_CHUNK))


def encode_chunk(rid, off, data):
    return struct.pack(_CHUNK_HEAD, bytes(int(rid[i:i + 2], 16) for i in range(0, 16, 2)),
                       off) + bytes(data)


def decode_update(data):
    m = _json(data)
    fw = m.get("fw")
    if not isinstance(fw, str) or not 0 < len(fw) <= 32:
        raise OtaError("fw: 1..32 characters")
    if m.get("state") not in STATES:
        raise OtaError("state: one of " + ", ".join(STATES))
    rid = m.get("id")
    if rid is not None:
        _hexid(rid)
    err = m.get("error")
    if err is not None and not isinstance(err, str):
        raise OtaError("error: a string")
    return {"fw": fw, "state": m["state"], "id": rid, "got": _int(m, "got", 0, 0x7FFFFFFF),
            "size": _int(m, "size", 0, 0x7FFFFFFF), "error": err and err[:200]}
