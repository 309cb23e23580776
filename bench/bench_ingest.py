"""End-to-end ingest throughput: kiosks publish vote batches through a real
Mosquitto to `borne serve`, which commits them and sends the acks. Printed
next to two baselines measured in the same run on the same rows:
raw sqlite3 executemany, and Mosquitto publish-to-subscribe without the
server. Target: end to end at least 50% of the slower baseline.

    .venv/bin/python bench/bench_ingest.py [--kiosks 20] [--batches 100] [--votes 50] [--rounds 3]
"""
import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocol import server_wire as w  # noqa: E402
from tests.server_support import (  # noqa: E402
    T0,
    Server,
    make_registry,
    secured_mosquitto,
    server_secret,
)

VOTES_SQL = ("INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
             " flags, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def workload(keys, batches, per_batch):
    """{device: [payload, ...]} and the same votes as rows."""
    payloads, rows = {}, []
    for dev in keys:
        payloads[dev] = []
        for b in range(batches):
            vs = [(b * per_batch + i + 1, T0 + (b * per_batch + i) * 1000, i % 4, 4, 0)
                  for i in range(per_batch)]
            payloads[dev].append(w.encode_batch(dev, 1, vs))
            rows += [(dev, s, "bench", 1, t, t, lv, sc, f, T0) for s, t, lv, sc, f in vs]
    return payloads, rows


def bench_sqlite(rows, tmp):
    """Raw executemany of the same rows into the same table, WAL, one
    transaction per 1000 rows (about what the server groups)."""
    from sync_server.storage.connection import connect
    conn = connect(os.path.join(tmp, "raw.db"))
    t = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN")
        conn.executemany(VOTES_SQL, rows[i:i + 1000])
        conn.execute("COMMIT")
    return time.perf_counter() - t


class Publisher:
    """One kiosk connection publishing its batches at QoS 1, then waiting
    for one application ack per batch (when acks are expected)."""

    def __init__(self, port, dev, secret, payloads):
        self.dev, self.payloads = dev, payloads
        self.acked = threading.Semaphore(0)
        self.ready = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev)
        self.c.username_pw_set(dev, secret)
        self.c.max_inflight_messages_set(100)
        self.c.on_connect = lambda c, u, f, rc, p=None: (
            c.subscribe(w.topic(dev, "ack"), 1), self.ready.set())
        self.c.on_message = lambda c, u, m: self.acked.release()
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()

    def run(self, wait_acks):
        infos = [self.c.publish(w.topic(self.dev, "votes"), p, qos=1) for p in self.payloads]
        for i in infos:
            i.wait_for_publish(120)
        if wait_acks:
            for _ in self.payloads:
                if not self.acked.acquire(timeout=120):
                    raise TimeoutError("missing acks for %s" % self.dev)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def publish_all(port, keys, payloads, wait_acks, done_check=None):
    pubs = [Publisher(port, d, keys[d], payloads[d]) for d in sorted(keys)]
    for p in pubs:
        assert p.ready.wait(10)
    time.sleep(0.2)  # let the subscriptions settle
    t = time.perf_counter()
    threads = [threading.Thread(target=p.run, args=(wait_acks,)) for p in pubs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if done_check:
        done_check()
    elapsed = time.perf_counter() - t
    for p in pubs:
        p.close()
    return elapsed


def bench_broker(port, keys, payloads, secret):
    """Mosquitto alone: the same publishers, one subscriber taking the votes
    as the server does, until it has every message."""
    total = sum(len(p) for p in payloads.values())
    got = threading.Semaphore(0)
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="borne-server")
    sub.username_pw_set("borne-server", secret)
    subscribed = threading.Event()
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("borne/v1/+/votes", 1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.release()
    sub.connect("127.0.0.1", port, 30)
    sub.loop_start()
    assert subscribed.wait(10)

    def all_received():
        for _ in range(total):
            if not got.acquire(timeout=120):
                raise TimeoutError("subscriber missed messages")

    try:
        return publish_all(port, keys, payloads, False, all_received)
    finally:
        sub.disconnect()
        sub.loop_stop()


def one_round(args, tmp):
    """Each measurement once, on a fresh database and broker."""
    os.makedirs(tmp)
    db = os.path.join(tmp, "b.db")
    keys = make_registry(db, args.kiosks)
    payloads, rows = workload(sorted(keys), args.batches, args.votes)
    broker = secured_mosquitto(db)
    try:
        t_sql = bench_sqlite(rows, tmp)
        t_mq = bench_broker(broker.port, keys, payloads, server_secret(db))
        if args.workers == 1:
            servers = [Server(db, "--mqtt", "mqtt://127.0.0.1:%d" % broker.port,
                              "--http", "127.0.0.1:0").start()]
        else:  # ingest workers on a shared subscription, as for a big fleet
            servers = [Server(db, "--mqtt", "mqtt://borne-ingest-%d@127.0.0.1:%d"
                              % (i + 1, broker.port), "--ingest-only",
                              log_path="%s.w%d.log" % (db, i + 1)).start()
                       for i in range(args.workers)]
        try:
            t_e2e = publish_all(broker.port, keys, payloads, True)
        finally:
            for srv in servers:
                srv.terminate()
        stored = sqlite3.connect(db).execute("SELECT count(*) FROM votes").fetchone()[0]
    finally:
        broker.stop()
    n = len(rows)
    if stored != n:
        raise SystemExit("stored %d votes, expected %d" % (stored, n))
    return n, {"sqlite3 executemany": n / t_sql, "mosquitto pub->sub": n / t_mq,
               "end to end (borne serve)": n / t_e2e}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiosks", type=int, default=20)
    ap.add_argument("--batches", type=int, default=100, help="batches per kiosk")
    ap.add_argument("--votes", type=int, default=50, help="votes per batch")
    ap.add_argument("--workers", type=int, default=1, choices=(1, 2),
                    help="1: one `borne serve`; 2: two `serve --ingest-only` workers")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds; the best of each figure is kept (the machine is shared)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="borne-bench-")
    best = {}
    for i in range(args.rounds):
        n, rates = one_round(args, os.path.join(tmp, "round%d" % i))
        for name, r in rates.items():
            best[name] = max(best.get(name, 0), r)
        print("round %d: %s" % (i + 1, ", ".join("%s %.0f" % kv for kv in rates.items())),
              flush=True)
    slower = min(best["sqlite3 executemany"], best["mosquitto pub->sub"])
    print("%d votes per round: %d kiosks x %d batches x %d votes; %d server process(es);"
          " best of %d rounds" % (n, args.kiosks, args.batches, args.votes, args.workers,
                                  args.rounds))
    print("machine: %d cores, load average %.2f (other work shares the cores)"
          % (os.cpu_count(), os.getloadavg()[0]))
    for name, r in best.items():
        print("%-26s %10.0f votes/s  %5.2f x slower baseline" % (name, r, r / slower))
    ratio = best["end to end (borne serve)"] / slower
    print("end to end / slower baseline: %.2f (target >= 0.50): %s"
          % (ratio, "met" if ratio >= 0.5 else "NOT met"))


if __name__ == "__main__":
    main()
