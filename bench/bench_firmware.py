"""The firmware's memory and drain rate, on the real firmware (MicroPython unix
port) with a real Mosquitto and the real `borne serve`.

Memory: the full scenario, without and with TLS (tests/firmware/scenario.py: boot, connect, config
and time, a 1,000-vote backlog drained, presses) per configuration: the peak
live heap, the simulated board's own share of it (its Python block device and
USB console reader, which a real board has in C) and the firmware's own peak
without it, and the smallest heap (in 4 KiB steps) the scenario passes in;
with the .mpy build a board gets (`borne firmware build`), with the
source tree, which MicroPython compiles at import (the compiler's transient
memory then counts), and with the .mpy build in a ROMFS image, its bytecode
run in place (the image counted in the board's share).
Drain: a 10,000-vote backlog through Mosquitto into `borne serve`, next to a
CPython kiosk stand-in draining the same backlog in the same run.

    .venv/bin/python bench/bench_firmware.py [VOTES] [--memory-only]"""
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import realparts  # noqa: E402
from tests import server_support as ss  # noqa: E402
from tests.firmware import scenario  # noqa: E402
from tests.firmware_support import Firmware  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
VOTES = int(ARGS[0]) if ARGS else 10000
KIB = 1024


def runs(heap_kib, form):
    """The scenario's figures in a heap of heap_kib KiB, or None if it fails;
    form: scenario.run's keywords (env, mpy, use_tls, romfs)."""
    d = tempfile.mkdtemp(prefix="borne-bench-heap-")
    try:
        return scenario.run(d, "%dk" % heap_kib, **form)
    except Exception as e:  # noqa: BLE001 - any failure means "does not fit"
        print("  %d KiB: fails (%s)" % (heap_kib, str(e).splitlines()[0][:100]))
        return None


def memory(name, lo=48, hi=128, **form):
    """One configuration of the scenario (form: scenario.run's keywords):
    figures at hi KiB, then the smallest heap that works, by bisection in
    4 KiB steps. Another configuration (TLS, a board's parameters) is one
    more call."""
    print("%s:" % name)
    top = runs(hi, form)
    if top is None:
        print("  does not run in %d KiB" % hi)
        return None
    peak, share = top["heap_peak"], top["board_share"]
    print("  peak live heap %d B (%.1f KiB), of which the simulated board's own share"
          " %d B: the firmware's own peak %d B (%.1f KiB)"
          % (peak, peak / KIB, share, peak - share, (peak - share) / KIB))
    lo = max(lo, (peak // KIB) // 4 * 4)  # below the live peak nothing can work
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        if runs(mid, form) is not None:
            hi = mid
        else:
            lo = mid
    print("  smallest heap that works: %d KiB (goal: 64 KiB without TLS, the firmware's own"
          " peak under 48 KiB)" % hi)
    return top["heap_peak"], hi


def count(db, dev):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM votes WHERE device_id = ?", (dev,)).fetchone()[0]
    finally:
        conn.close()


def main():
    memory("without TLS, .mpy build")
    memory("without TLS, source compiled at import", mpy=False)
    memory("without TLS, .mpy build, rp2 flash (256-byte programs)",
           env={"BORNE_FLASH_PROG": "256"})
    # The bytecode out of the heap, as on a board built with ROMFS: what is
    # left is the code's objects (functions, classes, module dicts, interned
    # names) and the data. The unix port has no ROM: the image is read into
    # the heap and counted in the board's share, so the smallest heap that
    # works includes it.
    memory("without TLS, .mpy build run in place from a ROMFS image", romfs=True, hi=192)
    # On the unix port mbedTLS's buffers come from the C heap, not the GC
    # heap: this is the GC heap TLS needs on top (firmware/README.md).
    memory("with TLS, .mpy build", use_tls=True, hi=160)
    if "--memory-only" not in sys.argv:
        drain()


def drain():
    d = tempfile.mkdtemp(prefix="borne-bench-")
    db = os.path.join(d, "borne.db")
    keys = ss.make_registry(db, kiosks=2, lockout_s=0)
    (dev, secret), (dev2, secret2) = list(keys.items())
    broker, server = ss.secured_server(db)
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
    print("%-40s %8.0f votes/s (%d stored)" % ("firmware (micropython, %s heap)"
                                                % fw.cmd[2].split("=")[1], fw_rate, stored))
    print("%-40s %8.0f votes/s (%s)" % ("CPython stand-in kiosk (baseline)", py_rate,
                                        "all acked" if ok else "NOT all acked"))
    print("ratio firmware / baseline: %.2f" % (fw_rate / py_rate))
    print("firmware peak live heap (after a collection, batch in hand): %s bytes;"
          " free after the run: %s" % (st.get("heap_peak"), st.get("heap_free")))


if __name__ == "__main__":
    main()
