"""What one MQTT connection costs the kiosk, plain TCP against TLS, under
the MicroPython unix port and a real Mosquitto with a plain and a TLS
listener: MicroPython GC heap (gc.mem_alloc) and process memory outside it
(VmRSS), per connection, averaged over 5 live connections of each kind,
each kind in a fresh process whose imports (ssl, tlsca, one context) are
done before measuring.
    .venv/bin/python bench/bench_tls_heap.py"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sync_server.broker import tls  # noqa: E402
from tests import realparts  # noqa: E402

PROBE = r"""
import sys, gc
sys.path[:0] = [%(fw)r]
import asyncio, mqtt, tlsca
der = open(%(ca)r, "rb").read()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
async def run(tls, n=5):
    live = []
    gc.collect(); heap, mem = gc.mem_alloc(), rss()
    for i in range(n):
        c = mqtt.Client("bench%%d%%d" %% (tls, i))
        if tls:
            await c.connect("127.0.0.1", %(tls_port)d, tls=tlsca.context(der), host="broker.test")
        else:
            await c.connect("127.0.0.1", %(plain_port)d)
        live.append(c)
    gc.collect()
    print("%%s %%d %%d" %% ("tls" if tls else "plain", (gc.mem_alloc() - heap) // n,
                          (rss() - mem) * 1024 // n))
    for c in live:
        c.close()
tlsca.context(der)  # imports and one parsed CA, outside the figures
asyncio.run(run(sys.argv[1] == "tls"))
"""


def main():
    mp = realparts.need_binary("micropython")
    ca, key = tls.make_ca()
    cert, ckey = tls.make_server_cert(ca, key, ["broker.test"])
    broker = realparts.Mosquitto()
    tls_port = realparts.free_port()
    for name, data in (("b.crt", tls.cert_pem(cert)), ("b.key", tls.key_pem(ckey)),
                       ("ca.der", ca.public_bytes(tls.serialization.Encoding.DER))):
        with open(os.path.join(broker.dir, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(broker.dir, name), 0o644)
    broker.conf = ("allow_anonymous true\nlistener %d 127.0.0.1\ncertfile %s/b.crt\n"
                   "keyfile %s/b.key\n" % (tls_port, broker.dir, broker.dir))
    broker.start()
    try:
        probe = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        probe.write(PROBE % {"fw": os.path.join(realparts.ROOT, "firmware"),
                             "ca": os.path.join(broker.dir, "ca.der"),
                             "tls_port": tls_port, "plain_port": broker.port})
        probe.close()
        rows = {}
        for kind in ("plain", "tls"):
            out = subprocess.run([mp, "-X", "heapsize=512k", probe.name, kind],
                                 capture_output=True, text=True, timeout=120, check=True)
            _, heap, rss = out.stdout.split()
            rows[kind] = (int(heap), int(rss))
        print("per connection        GC heap   memory outside the GC heap")
        for kind in ("plain", "tls"):
            print("%-20s %8d B %10d B" % (kind, *rows[kind]))
        print("TLS - plain          %8d B %10d B" % (rows["tls"][0] - rows["plain"][0],
                                                    rows["tls"][1] - rows["plain"][1]))
    finally:
        broker.stop()
        os.unlink(probe.name)


if __name__ == "__main__":
    main()
