"""An update over the air to a cohort of kiosks through Mosquitto: the real
firmware under the MicroPython unix port (one process per kiosk), a real
Mosquitto with the generated access rules, the real `borne serve`. A
release of this source tree (as version 9.9.9) is published, rolled out to
every kiosk, and each downloads, checks and installs it (the process ends
when the kiosk restarts on it). Prints the kiosk's live heap (its
console's `status`: heap_peak, the largest heap in use after a collection,
sampled each second) before and while it updates, the smallest heap (in 4
KiB steps) an update completes in (without a MemoryError, the offer dropped
or the update set aside), the duration from
the rollout to the last install, and the update's bytes on the air (MQTT
payloads, topics and fixed headers of the offer, fetch, chunk and update
messages, as a server account subscribed to every kiosk topic sees them),
as a ratio against the release's raw bytes times the cohort; first for one
kiosk, as a baseline, then for the cohort.

    python bench/bench_ota.py [KIOSKS]   (default 100)
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paho.mqtt.client as mqtt  # noqa: E402

from protocol import server_wire as w  # noqa: E402
from sync_server.broker.rules import INGEST_PREFIX  # noqa: E402
from sync_server.devices import release  # noqa: E402
from tests import realparts  # noqa: E402
from tests import server_support as ss  # noqa: E402
from tests.firmware_support import Firmware  # noqa: E402

HEAP = "160k"
OTA_TOPICS = ("ota", "fetch", "chunk", "update")


def borne(*args):
    r = subprocess.run([ss.BORNE, *map(str, args)], capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise SystemExit(r.stderr)
    return r.stdout


def make_release(work):
    src = os.path.join(work, "src")
    for folder in ("firmware", "protocol"):
        shutil.copytree(os.path.join(realparts.ROOT, folder), os.path.join(src, folder),
                        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "*.md"))
    with open(os.path.join(src, "firmware", "version.py"), "w") as f:
        f.write('FW = "9.9.9"\n')
    borne("firmware", "key", "--out", os.path.join(work, "sign.key"))
    borne("firmware", "build", "--src", src, "--out", os.path.join(work, "build"))
    borne("firmware", "publish", "--dir", os.path.join(work, "build"), "--key",
          os.path.join(work, "sign.key"), "--out", os.path.join(work, "rel"))
    with open(os.path.join(work, "sign.key.pub")) as f:
        return os.path.join(work, "rel"), f.read().strip()


class AirCounter:
    """Every OTA message on the broker, as a server account receives it."""

    def __init__(self, port, db):
        self.bytes = {t: 0 for t in OTA_TOPICS}
        self.count = {t: 0 for t in OTA_TOPICS}
        self.lock = threading.Lock()
        user = INGEST_PREFIX + "2"
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
        self.c.username_pw_set(user, ss.server_secret(db))
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(
            [(w.TOPIC_ROOT + "+/" + t, 0) for t in OTA_TOPICS])
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()

    def _on(self, c, u, m):
        kind = m.topic.rsplit("/", 1)[1]
        n = len(m.payload) + len(m.topic) + 2  # topic length field
        n += 2 if kind in ("update", "ota") else 0  # packet id (QoS 1)
        rest = n
        n += 1 + (1 if rest < 128 else 2 if rest < 16384 else 3)  # fixed header
        with self.lock:
            self.bytes[kind] += n
            self.count[kind] += 1

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def run(micropython, work, rel, key, n, heap_kib=None):
    db = os.path.join(work, "borne-%d.db" % n)
    keys = ss.make_registry(db, kiosks=n)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE sites SET lockout_s = 0, sync_s = 1")
    conn.close()
    broker = ss.secured_mosquitto(db)
    server = ss.Server(db, "--http", "127.0.0.1:0", "--mqtt",
                       "mqtt://127.0.0.1:%d" % broker.port).start()
    kiosks = []
    counter = None
    try:
        for dev, secret in sorted(keys.items()):
            fw = Firmware(micropython, os.path.join(work, "%s-%d-%s.img" % (dev, n, heap_kib)),
                          heap="%dk" % heap_kib if heap_kib else HEAP,
                          env=dict(BORNE_DEVICE=dev, BORNE_BROKER=broker.url,
                                   BORNE_PASS=secret, BORNE_KEEPALIVE="30"))
            kiosks.append(fw.start())
        for fw in kiosks:
            fw.wait_status(lambda s: s["mqtt"] == "up", timeout=300)
            if fw.ask("set fwkey " + key) != {"fwkey": key}:
                raise SystemExit("fwkey not set")
        counter = AirCounter(broker.port, db)
        time.sleep(1)
        heap = [kiosks[0].ask("status")["heap_peak"]]
        t0 = time.monotonic()
        borne("firmware", "rollout", "--db", db, "--release", rel, "--share", "1")
        if n == 1:  # the kiosk's live heap while it updates
            while time.monotonic() - t0 < 120:
                st = kiosks[0].ask("status")
                if st is None:
                    break
                heap.append(st["heap_peak"])
                short_of_heap(kiosks[0].logs)
                time.sleep(0.2)
        for fw in kiosks:
            if fw.wait_exit(timeout=120 if heap_kib else 1800) != 0:
                raise SystemExit("a kiosk stopped: %s" % fw.logs[-5:])
            short_of_heap(fw.logs)
        duration = time.monotonic() - t0
        time.sleep(1)
        installed = sum(1 for fw in kiosks if any("installed in" in x for x in fw.logs))
        return duration, installed, dict(counter.bytes), dict(counter.count), heap
    finally:
        if counter:
            counter.close()
        for fw in kiosks:
            fw.stop()
        server.stop()
        broker.stop()


def short_of_heap(logs):
    """Raise MemoryError if the kiosk's logs say the update did not fit: a
    MemoryError, the offer dropped as beyond the free heap, or the update
    set aside (the kiosk then goes on without it)."""
    for line in logs:
        if "MemoryError" in line or "beyond the free heap" in line or "set aside" in line:
            raise MemoryError(line)


def smallest_heap(micropython, work, rel, key, lo=96, hi=160):
    """The smallest heap (KiB, 4 KiB steps) one kiosk's update completes in
    without a MemoryError, by bisection."""
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        try:
            ok = run(micropython, work, rel, key, 1, mid)[1] == 1
        except (MemoryError, SystemExit, TimeoutError, subprocess.TimeoutExpired):
            ok = False
        print("  %d KiB: %s" % (mid, "installed" if ok else "fails"))
        if ok:
            hi = mid
        else:
            lo = mid
    return hi


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    micropython = shutil.which("micropython", path=os.path.dirname(sys.executable))
    work = tempfile.mkdtemp(prefix="bench-ota-")
    try:
        rel_dir, key = make_release(work)
        size = len(release.load(rel_dir).blob)
        print("release: %d bytes; chunks of 1024 bytes; kiosk heap %s" % (size, HEAP))
        print("| kiosks | installed | duration | per kiosk | bytes on the air | "
              "ratio to the raw release bytes | chunk messages |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for k in sorted({1, n}):
            duration, installed, by, count, heap = run(micropython, work, rel_dir, key, k)
            if k == 1:
                print("one kiosk's live heap: %d bytes before, %d at the peak while updating"
                      " (+%d)" % (heap[0], max(heap), max(heap) - heap[0]))
                print("smallest heap an update completes in: %d KiB"
                      % smallest_heap(micropython, work, rel_dir, key))
            total = sum(by.values())
            print("| %d | %d | %.1f s | %.2f s | %d B | %.3f | %d |" % (
                k, installed, duration, duration / k, total, total / (size * k),
                count["chunk"]))
            print("|   | (offer %d B, fetch %d B, chunk %d B, update %d B) | | | | | |" % (
                by["ota"], by["fetch"], by["chunk"], by["update"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
