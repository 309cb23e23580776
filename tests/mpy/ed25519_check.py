# Runs firmware/ed25519.py under the MicroPython unix port on cases read from
# a JSON file: [[pub hex, msg hex, sig hex], ...]. Prints one JSON line:
# {"results": [true|false, ...], "sha512": [hex, ...], "ms": [...], "heap": N}
#   micropython tests/mpy/ed25519_check.py ROOT CASES.json
import gc
import json
import sys
import time
from binascii import hexlify, unhexlify


def main(root, path):
    sys.path.insert(0, root + "/firmware")
    gc.collect()
    before = gc.mem_alloc()
    import ed25519
    gc.collect()
    heap = gc.mem_alloc() - before
    with open(path) as f:
        cases = json.load(f)
    results = []
    digests = []
    ms = []
    for pub, msg, sig in cases:
        m = unhexlify(msg)
        t = time.ticks_ms()
        results.append(ed25519.verify(unhexlify(pub), m, unhexlify(sig)))
        ms.append(time.ticks_diff(time.ticks_ms(), t))
        digests.append(hexlify(ed25519.sha512(m)).decode())
    print(json.dumps({"results": results, "sha512": digests, "ms": ms, "heap": heap}))


main(sys.argv[1], sys.argv[2])
