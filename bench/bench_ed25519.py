"""The kiosk's Ed25519 check (firmware/ed25519.py) of a real release's
manifest on both MicroPython ports: the unix port, and the real rp2 port in
the emulated RP2040 (tests/pico, `npm ci` there first; times on the
emulated chip's clock). Prints the milliseconds of one check, a tampered
signature refused, and the hash functions of each port's hashlib (the rp2
port has no SHA-512, hence the one written in ed25519.py). The baseline is
the `cryptography` library's check of the same signature on this machine.

    python bench/bench_ed25519.py
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from sync_server.devices import release  # noqa: E402
from tests import realparts  # noqa: E402

SRC = os.path.join(realparts.ROOT, "firmware", "ed25519.py")


def probe(rel):
    with open(SRC) as f:
        src = f.read()
    return src + """
import gc, time, binascii, hashlib
pub = binascii.unhexlify(%r)
sig = binascii.unhexlify(%r)
msg = %r
gc.collect()
t = time.ticks_ms()
ok = verify(pub, msg, sig)
dt = time.ticks_diff(time.ticks_ms(), t)
bad = bytearray(sig); bad[40] ^= 4
print("RESULT", ok, verify(pub, msg, bytes(bad)), dt,
      [n for n in ("sha1", "sha256", "sha512") if hasattr(hashlib, n)])
""" % (rel.key.hex(), rel.sig.hex(), rel.manifest)


def main():
    work = tempfile.mkdtemp(prefix="bench-ed25519-")
    try:
        borne = os.path.join(os.path.dirname(sys.executable), "borne")
        for args in (["key", "--out", os.path.join(work, "k")],
                     ["build", "--out", os.path.join(work, "build")],
                     ["publish", "--dir", os.path.join(work, "build"), "--key",
                      os.path.join(work, "k"), "--out", os.path.join(work, "rel")]):
            subprocess.run([borne, "firmware", *args], check=True, capture_output=True)
        rel = release.load(os.path.join(work, "rel"))
        t = time.perf_counter()
        Ed25519PublicKey.from_public_bytes(rel.key).verify(rel.sig, rel.manifest)
        base = (time.perf_counter() - t) * 1000
        print("manifest of %d bytes (%d files); cryptography on this machine: %.2f ms"
              % (len(rel.manifest), len(rel.files), base))
        code = probe(rel)
        path = os.path.join(work, "probe.py")
        with open(path, "w") as f:
            f.write(code)
        mp = shutil.which("micropython", path=os.path.dirname(sys.executable))
        out = subprocess.run([mp, "-X", "heapsize=64k", path], capture_output=True,
                             text=True, timeout=300).stdout
        print("unix port:", out.strip().replace("RESULT", "good, tampered, ms, hashlib:"))
        try:
            from tests.pico.pico import Pico, repl_exec
            p = Pico()
        except Exception as e:  # noqa: BLE001 - no node or no npm ci: say so
            print("emulated Pico: not run (%s)" % e)
            return
        try:
            p.power_on()
            p.run(3000)
            out = repl_exec(p.url, code, timeout=1200)
        finally:
            p.close()
        print("rp2 port, emulated RP2040:",
              out.strip().replace("RESULT", "good, tampered, ms, hashlib:"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
