# Checks protocol/vectors.json against borne_wire. Runs unchanged under CPython
# and under the MicroPython unix port:  micropython tests/mpy/check_vectors.py ROOT
# Prints one JSON line: {"checked": N, "failures": [...]}.
import json
import sys
from binascii import unhexlify


def check(root):
    if root + "/protocol" not in sys.path:
        sys.path.insert(0, root + "/protocol")
    import borne_wire as w

    with open(root + "/protocol/vectors.json") as f:
        doc = json.load(f)
    failures = []
    n = 0
    for case in doc["valid_batches"]:
        n += 1
        b = case["batch"]
        votes = [tuple(v) for v in b["votes"]]
        anchor = tuple(b["anchor"]) if b["anchor"] else None
        data = unhexlify(case["hex"])
        try:
            if w.encode_batch(b["device_id"], b["boot"], votes, anchor) != data:
                failures.append(case["name"] + ": encoding differs")
            got = w.decode_batch(data)
            if got != w.Batch(b["device_id"], b["boot"], votes, anchor):
                failures.append(case["name"] + ": decoded %r" % (got,))
        except Exception as e:
            failures.append(case["name"] + ": raised %r" % (e,))
    for case in doc["valid_acks"]:
        n += 1
        a = case["ack"]
        data = unhexlify(case["hex"])
        try:
            if w.encode_ack(a["device_id"], a["seq"]) != data:
                failures.append(case["name"] + ": encoding differs")
            if w.decode_ack(data) != (a["device_id"], a["seq"]):
                failures.append(case["name"] + ": decoded differently")
        except Exception as e:
            failures.append(case["name"] + ": raised %r" % (e,))
    for case in doc["invalid"]:
        n += 1
        fn = w.decode_batch if case["kind"] == "batch" else w.decode_ack
        try:
            fn(unhexlify(case["hex"]))
            failures.append(case["name"] + ": accepted")
        except w.WireError as e:
            if type(e).__name__ != case["error"]:
                failures.append("%s: %s, expected %s" % (case["name"], type(e).__name__,
                                                         case["error"]))
        except Exception as e:
            failures.append(case["name"] + ": crashed with %r" % (e,))
    return {"checked": n, "failures": failures}


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1])))
