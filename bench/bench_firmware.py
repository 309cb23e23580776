"""Drain rate of a 10,000-vote backlog from the real firmware (MicroPython
unix port, heap 96 KiB) through a real Mosquitto into the real `borne serve`,
next to a CPython kiosk stand-in draining the same backlog in the same run;
and the firmware's peak heap.   .venv/bin/python bench/bench_firmware.py [VOTES]"""
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import realparts  # noqa: E402
from tests import server_support as ss  # noqa: E402
from tests.firmware_support import Firmware  # noqa: E402

VOTES = int(sys.argv[1]) if len(sys.argv) > 1 else 10000


def count(db, dev):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM votes WHERE device_id = ?", (dev,)).fetchone()[0]
    finally:
        conn.close()


def main():
    d = tempfile.mkdtemp(prefix="borne-bench-")
    db = os.path.join(d, "borne.db")
    keys = ss.make_registry(db, kiosks=2)
    (dev, secret), (dev2, secret2) = list(keys.items())
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE sites SET lockout_s = 0")
    conn.close()
    broker = ss.secured_mosquitto(db)
    server = ss.Server(db, "--http", "127.0.0.1:0", "--mqtt",
                       "mqtt://127.0.0.1:%d" % broker.port).start()
    fw = Firmware(realparts.need_binary("micropython"), os.path.join(d, "flash.img"),
                  env=dict(BORNE_DEVICE=dev, BORNE_BROKER=broker.url, BORNE_PASS=secret,
                           BORNE_FLASH_BLOCKS="2048"))
    try:
        fw.start()
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
        while fw.ask("show config")["lockout_s"] != 0:
            time.sleep(0.1)
        broker.stop(kill=True)
        fw.wait_status(lambda s: s["mqtt"] == "down", timeout=60)
        t0 = time.monotonic()
        for i in range(VOTES):
            r = fw.ask("press %d" % (i % 4))
            assert "seq" in r, r
        press_s = time.monotonic() - t0
        assert fw.ask("status")["journal"] == VOTES
        broker.start()
        # Time the drain from the reconnection, not the backoff before it.
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=600, step=0.02)
        t0 = time.monotonic()
        st = fw.wait_status(lambda s: s["journal"] == 0, timeout=600, step=0.05)
        fw_s = time.monotonic() - t0
        stored = count(db, dev)

        k = ss.Kiosk(broker.port, dev2, secret2, batch=50, resend_s=5)
        k.press(VOTES)
        t0 = time.monotonic()
        ok = k.sync(timeout=600)
        py_s = time.monotonic() - t0
        k.close()
    finally:
        fw.stop()
        server.stop()
        broker.stop()
    fw_rate = VOTES / fw_s
    py_rate = VOTES / py_s
    print("backlog of %d votes, batches of 50, real Mosquitto + borne serve" % VOTES)
    print("journaling through the console: %.0f votes/s" % (VOTES / press_s))
    print("%-40s %8.0f votes/s (%d stored)" % ("firmware (micropython, 96 KiB heap)",
                                                fw_rate, stored))
    print("%-40s %8.0f votes/s (%s)" % ("CPython stand-in kiosk (baseline)", py_rate,
                                        "all acked" if ok else "NOT all acked"))
    print("ratio firmware / baseline: %.2f" % (fw_rate / py_rate))
    print("firmware peak live heap (after a collection, batch in hand): %s of 98304 bytes;"
          " free after the run: %s" % (st.get("heap_peak"), st.get("heap_free")))


if __name__ == "__main__":
    main()
