# Checks protocol/vectors.json against both halves of the protocol: the
# server's (protocol.server_wire) and the kiosk's (kiosk_wire imported flat as
# on a kiosk, with firmware/batch.py, the kiosk's batch encoder). Runs
# unchanged under CPython and under the MicroPython unix port:
#   micropython tests/mpy/check_vectors.py ROOT
# Prints one JSON line: {"checked": N, "kiosk_checked": N, "failures": [...]}.
import json
import struct
import sys
from binascii import unhexlify


def check(root):
    for p in (root + "/firmware", root + "/protocol", root):
        if p not in sys.path:
            sys.path.insert(0, p)
    import batch

    import kiosk_wire as kw
    from protocol import server_wire as w

    with open(root + "/protocol/vectors.json") as f:
        doc = json.load(f)
    failures = []
    n = 0
    k = 0
    for case in doc["valid_batches"]:
        n += 1
        b = case["batch"]
        votes = [tuple(v) for v in b["votes"]]
        anchor = tuple(b["anchor"]) if b["anchor"] else None
        campaign = b.get("campaign")  # absent: a version 1 batch
        data = unhexlify(case["hex"])
        try:
            if w.encode_batch(b["device_id"], b["boot"], votes, anchor, campaign) != data:
                failures.append(case["name"] + ": encoding differs")
            got = w.decode_batch(data)
            if got != w.Batch(b["device_id"], b["boot"], votes, anchor, campaign or 0):
                failures.append(case["name"] + ": decoded %r" % (got,))
            if got.version != (1 if campaign is None else 2):
                failures.append(case["name"] + ": decoded as version %d" % got.version)
        except Exception as e:
            failures.append(case["name"] + ": raised %r" % (e,))
        # The kiosk sends version 2 only; version 1 is checked on the server's half.
        if campaign is not None and len(votes) <= batch.MAX_BATCH:
            k += 1
            try:
                if kiosk_batch(batch, b["device_id"], b["boot"], votes, anchor,
                               campaign) != data:
                    failures.append(case["name"] + ": kiosk encoding differs")
            except Exception as e:
                failures.append(case["name"] + ": kiosk encoder raised %r" % (e,))
    for case in doc["valid_acks"]:
        n += 1
        k += 1
        a = case["ack"]
        data = unhexlify(case["hex"])
        try:
            if w.encode_ack(a["device_id"], a["seq"]) != data:
                failures.append(case["name"] + ": encoding differs")
            if w.decode_ack(data) != (a["device_id"], a["seq"]):
                failures.append(case["name"] + ": decoded differently")
            if kw.decode_ack(data) != (a["device_id"], a["seq"]):
                failures.append(case["name"] + ": kiosk decoded differently")
        except Exception as e:
            failures.append(case["name"] + ": raised %r" % (e,))
    for case in doc["invalid"]:
        n += 1
        decoders = [("server", w.decode_batch if case["kind"] == "batch" else w.decode_ack,
                     w.WireError)]
        if case["kind"] != "batch":
            k += 1
            decoders.append(("kiosk", kw.decode_ack, kw.WireError))
        for half, fn, err in decoders:
            try:
                fn(unhexlify(case["hex"]))
                failures.append("%s (%s): accepted" % (case["name"], half))
            except err as e:
                if type(e).__name__ != case["error"]:
                    failures.append("%s (%s): %s, expected %s" % (
                        case["name"], half, type(e).__name__, case["error"]))
            except Exception as e:
                failures.append("%s (%s): crashed with %r" % (case["name"], half, e))
    return {"checked": n, "kiosk_checked": k, "failures": failures}


def kiosk_batch(batch, dev, boot, votes, anchor, campaign):
    # The kiosk encodes from journal records (firmware/journal.py's layout:
    # seq u32, boot u32, t u48, level|scale|flags u8, check u8).
    bb = batch.BatchBuffer(dev, lambda b: anchor)
    bb.begin(boot, campaign)
    rec = bytearray(16)
    for seq, t, level, scale, flags in votes:
        struct.pack_into(">IIHIB", rec, 0, seq, boot, t >> 32, t & 0xFFFFFFFF,
                         level | (scale - 2) << 2 | flags << 4)
        bb.add(rec, 0)
    return bytes(bb.finish())


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1])))
