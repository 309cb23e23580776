# Checks protocol/ota_vectors.json against both halves of the update
# messages: the server's (protocol/ota_server_wire.py: offer and chunk
# encoded, fetch and update decoded) and the kiosk's (ota_wire imported flat
# as on a kiosk: offer and chunk decoded, fetch and update encoded). Runs
# unchanged under CPython and under the MicroPython unix port:
#   micropython tests/mpy/check_ota_vectors.py ROOT
# Prints one JSON line: {"checked": N, "failures": [...]}.
import json
import sys
from binascii import hexlify, unhexlify


def check(root):
    for p in (root + "/protocol", root):
        if p not in sys.path:
            sys.path.insert(0, p)
    import ota_wire as kw

    from protocol import ota_server_wire as sw
    with open(root + "/protocol/ota_vectors.json") as f:
        doc = json.load(f)
    failures = []
    n = 0
    for c in doc["chunks"]:
        n += 1
        data = unhexlify(c["data"])
        enc = hexlify(sw.encode_chunk(c["id"], c["off"], data)).decode()
        if enc != c["hex"]:
            failures.append("chunk %s: server encodes %s" % (c["off"], enc))
        rid, off, got = kw.decode_chunk(unhexlify(c["hex"]))
        if (rid, off, bytes(got)) != (c["id"], c["off"], data):
            failures.append("chunk %s: kiosk decodes %r" % (c["off"], (rid, off)))
    for c in doc["fetches"]:
        n += 1
        raw = kw.encode_fetch(c["id"], c["off"], c["n"])
        if list(sw.decode_fetch(raw)) != [c["id"], c["off"], c["n"]]:
            failures.append("fetch %s: round trip" % c)
        if list(sw.decode_fetch(c["json"].encode())) != [c["id"], c["off"], c["n"]]:
            failures.append("fetch %s: server decodes the vector" % c)
    for c in doc["offers"]:
        n += 1
        sig = unhexlify(c["sig"])
        o = kw.decode_offer(c["json"].encode())
        if (o["id"], o["manifest"], o["sig"], o["chunk"], o["boots"], o["trial_s"]) != (
                c["id"], c["manifest"].encode(), sig, c["chunk"], c["boots"], c["trial_s"]):
            failures.append("offer %s: kiosk decodes %r" % (c["id"], o))
        again = kw.decode_offer(sw.encode_offer(c["id"], c["manifest"].encode(), sig,
                                                c["chunk"], c["boots"], c["trial_s"]))
        if again != o:
            failures.append("offer %s: server's encoding decodes otherwise" % c["id"])
    for c in doc["updates"]:
        n += 1
        m = sw.decode_update(kw.encode_update(c["fw"], c["state"], c["id"], c["got"],
                                              c["size"], c["error"]))
        want = {"fw": c["fw"], "state": c["state"], "id": c["id"], "got": c["got"],
                "size": c["size"], "error": c["error"]}
        if m != want or sw.decode_update(c["json"].encode()) != want:
            failures.append("update %s: decodes %r" % (c["state"], m))
    for c in doc["invalid"]:
        n += 1
        fn = {"offer": kw.decode_offer, "chunk": kw.decode_chunk, "fetch": sw.decode_fetch,
              "update": sw.decode_update}[c["kind"]]
        raw = unhexlify(c["hex"]) if "hex" in c else c["json"].encode()
        try:
            fn(raw)
            failures.append("invalid %s accepted: %s" % (c["kind"], c["why"]))
        except ValueError:
            pass
    return {"checked": n, "failures": failures}


if __name__ == "__main__":
    print(json.dumps(check(sys.argv[1])))
