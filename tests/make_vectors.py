"""Regenerate protocol/vectors.json from the cases below (run by hand after a
deliberate protocol change; the tests then check both interpreters against it).

    python tests/make_vectors.py
"""
import json
import struct
import sys
from binascii import crc32
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from protocol import server_wire as w  # noqa: E402

T0 = 1763900000000  # 2025-11-23T12:13:20Z in ms


def reseal(buf):
    """Replace the trailing checksum so only the intended defect remains."""
    body = bytes(buf[:-4])
    return body + struct.pack(">I", crc32(body) & 0xFFFFFFFF)


def raw_batch(dev, boot, votes, hflags=0, count=None, anchor=b"", version=1, kind=0x56):
    b = dev.encode() if isinstance(dev, str) else dev
    out = struct.pack(">BBBB", version, kind, hflags, len(b)) + b
    out += struct.pack(">IH", boot, len(votes) if count is None else count) + anchor
    for seq, t, level, scale, flags in votes:
        out += struct.pack(">IHIBBB", seq, t >> 32, t & 0xFFFFFFFF, level, scale, flags)
    return reseal(out + b"\0\0\0\0")


def main():
    valid = []

    def batch(name, dev, boot, votes, anchor=None, campaign=None):
        # campaign None: a version 1 batch; a number: version 2 with that campaign.
        data = w.encode_batch(dev, boot, votes, anchor, campaign)
        b = {"device_id": dev, "boot": boot, "anchor": list(anchor) if anchor else None,
             "votes": [list(v) for v in votes]}
        if campaign is not None:
            b["campaign"] = campaign
        valid.append({"name": name, "batch": b, "hex": data.hex()})

    batch("empty batch", "k1", 0, [])
    batch("one vote, clock known", "mairie-01", 3, [(1, T0, 3, 4, 0)])
    batch("clock unknown, anchor", "k1", 7, [(10, 1500, 0, 2, w.F_CLOCK_UNKNOWN),
                                             (11, 9000, 1, 2, w.F_CLOCK_UNKNOWN | w.F_BURST)],
          anchor=(60000, T0))
    batch("all flags, 3 buttons", "K_3", 1, [(4294967294, T0, 2, 3, w.F_ALL),
                                             (4294967295, T0 + 1, 0, 3, w.F_OUTSIDE_HOURS)])
    batch("max time", "z", 4294967295, [(0, w.MAX_U48, 1, 4, 0)])
    batch("50 votes", "bib-centre-2", 12,
          [(100 + i, T0 + 7000 * i, i % 4, 4, w.F_BURST if i % 10 == 9 else 0) for i in range(50)])
    # Version 2: the same votes with a campaign per batch (0 = satisfaction).
    batch("v2 empty batch, anchor alone", "k1", 2, [], anchor=(60000, T0), campaign=0)
    batch("v2 satisfaction, campaign 0", "mairie-01", 3, [(1, T0, 3, 4, 0)], campaign=0)
    batch("v2 consultation 7, clock unknown, anchor", "k1", 7,
          [(10, 1500, 0, 3, w.F_CLOCK_UNKNOWN), (11, 9000, 2, 3, w.F_CLOCK_UNKNOWN | w.F_BURST)],
          anchor=(60000, T0), campaign=7)
    batch("v2 campaign 65535, all flags", "K_3", 1, [(4294967295, T0, 1, 2, w.F_ALL)],
          campaign=65535)
    batch("v2 50 answers", "bib-centre-2", 12,
          [(100 + i, T0 + 7000 * i, i % 2, 2, 0) for i in range(50)], campaign=300)
    acks = []
    for dev, seq in (("k1", 0), ("mairie-01", 149), ("z", 4294967295)):
        acks.append({"name": "ack %s %d" % (dev, seq), "ack": {"device_id": dev, "seq": seq},
                     "hex": w.encode_ack(dev, seq).hex()})

    good = bytes.fromhex(valid[1]["hex"])
    good2 = bytes.fromhex(valid[7]["hex"])  # v2 satisfaction
    two = bytes.fromhex(valid[2]["hex"])
    ack = bytes.fromhex(acks[1]["hex"])
    v = (1, T0, 3, 4, 0)
    invalid = [
        ("empty message", "batch", b"", "TruncatedError"),
        ("version 0", "ack", b"\x00" + ack[1:], "VersionError"),
        ("version 3", "batch", b"\x03" + good2[1:], "VersionError"),
        ("ack at version 2", "ack", b"\x02" + ack[1:], "VersionError"),
        ("v2 cut in campaign", "batch", good2[:4 + 9 + 7], "TruncatedError"),
        ("v2 without its campaign", "batch", reseal(b"\x02" + good[1:]), "TruncatedError"),
        ("v2 checksum", "batch", good2[:-1] + bytes([good2[-1] ^ 1]), "ChecksumError"),
        ("v2 level above answers", "batch", reseal(good2[:-7] + b"\x04" + good2[-6:]),
         "LevelError"),
        ("bad checksum", "batch", good[:-1] + bytes([good[-1] ^ 1]), "ChecksumError"),
        ("flipped vote byte", "batch", good[:20] + bytes([good[20] ^ 0x40]) + good[21:],
         "ChecksumError"),
        ("cut in header", "batch", good[:3], "TruncatedError"),
        ("cut in device id", "batch", good[:8], "TruncatedError"),
        ("cut in vote", "batch", good[:-7], "TruncatedError"),
        ("last byte missing", "batch", good[:-1], "TruncatedError"),
        ("ack cut", "ack", ack[:-2], "TruncatedError"),
        ("trailing byte", "batch", good + b"\0", "FormatError"),
        ("level equals scale", "batch", raw_batch("k1", 1, [(1, T0, 4, 4, 0)]), "LevelError"),
        ("level 2 on 2 buttons", "batch", raw_batch("k1", 1, [(1, T0, 2, 2, 0)]), "LevelError"),
        ("seq decreasing", "batch", raw_batch("k1", 1, [(5, T0, 1, 4, 0), (4, T0, 1, 4, 0)]),
         "SeqOrderError"),
        ("seq repeated", "batch", raw_batch("k1", 1, [v, v]), "SeqOrderError"),
        ("scale 5", "batch", raw_batch("k1", 1, [(1, T0, 1, 5, 0)]), "FormatError"),
        ("scale 1", "batch", raw_batch("k1", 1, [(1, T0, 0, 1, 0)]), "FormatError"),
        ("unknown vote flag", "batch", raw_batch("k1", 1, [(1, T0, 1, 4, 0x80)]), "FormatError"),
        ("unknown header flag", "batch", raw_batch("k1", 1, [v], hflags=0x02), "FormatError"),
        ("count above 500", "batch", raw_batch("k1", 1, [], count=501), "FormatError"),
        ("device id with slash", "batch", raw_batch("a/b", 1, [v]), "FormatError"),
        ("device id not UTF-8", "batch", raw_batch(b"\xff\xfe", 1, [v]), "FormatError"),
        ("device id length 0", "batch", raw_batch("", 1, [v]), "FormatError"),
        ("ack given as batch", "batch", ack, "FormatError"),
        ("batch given as ack", "ack", good, "FormatError"),
        ("anchor flag, anchor missing", "batch", raw_batch("k1", 1, [v], hflags=1),
         "TruncatedError"),
        ("anchor batch cut", "batch", two[:-20], "TruncatedError"),
    ]
    doc = {
        "about": "Borne wire protocol test vectors (versions 1 and 2); see PROTOCOL.md. "
                 "Generated by tests/make_vectors.py, checked under CPython and MicroPython.",
        "valid_batches": valid,
        "valid_acks": acks,
        "invalid": [{"name": n, "kind": k, "hex": d.hex(), "error": e} for n, k, d, e in invalid],
    }
    # Each invalid case must fail the way it says, or the file would lie.
    for case in doc["invalid"]:
        fn = w.decode_batch if case["kind"] == "batch" else w.decode_ack
        try:
            fn(bytes.fromhex(case["hex"]))
        except w.WireError as e:
            assert type(e).__name__ == case["error"], (case["name"], e)
        else:
            raise AssertionError(case["name"] + " decoded")
    path = ROOT / "protocol" / "vectors.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
