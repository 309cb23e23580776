"""Bytes on the wire for a 50-vote batch: binary v1 against JSON encodings.

    python bench/bench_wire_size.py
"""
import json

from protocol import server_wire as w

T0 = 1763900000000


def votes(first_seq):
    return [(first_seq + i, T0 + 7000 * i, i % 4, 4, w.F_BURST if i % 10 == 9 else 0)
            for i in range(50)]


def compact(dev, boot, vs):
    return json.dumps({"v": 1, "d": dev, "b": boot, "votes": [list(v) for v in vs]},
                      separators=(",", ":")).encode()


def named(dev, boot, vs):
    keys = ("seq", "t", "level", "scale", "flags")
    return json.dumps({"v": 1, "device_id": dev, "boot": boot,
                       "votes": [dict(zip(keys, v)) for v in vs]}).encode()


def main():
    dev, boot = "bib-centre-2", 12
    base = len(w.encode_batch(dev, boot, votes(100)))
    rows = [
        ("binary v1", base),
        ("JSON arrays, compact", len(compact(dev, boot, votes(100)))),
        ("JSON arrays, seqs above 1,000,000", len(compact(dev, boot, votes(1000000)))),
        ("JSON named fields", len(named(dev, boot, votes(100)))),
    ]
    print("%-36s %6s %6s" % ("encoding of a 50-vote batch", "bytes", "ratio"))
    for name, size in rows:
        print("%-36s %6d %6.2f" % (name, size, size / base))


if __name__ == "__main__":
    main()
