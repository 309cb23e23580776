"""Cost of the alert evaluation for a département's fleet: N sites of K
kiosks (opening hours on weekdays, recent votes, fresh telemetry), next to
its baseline in the same run, one ingest-sized transaction (200 batches of
50 votes, as `mqtt_link` commits them). Prints the full evaluation (every
rule, run every `alert_every_s`) and the quick one after a commit (the spike
rule at the sites that changed), and the share of one core each takes at its
cadence.

    .venv/bin/python bench/bench_alerts.py [--sites 1000] [--kiosks 10] [--changed 20]
"""
import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sync_server.alerts import evaluate, service  # noqa: E402
from sync_server.settings import Settings  # noqa: E402
from sync_server.storage.connection import connect, transaction  # noqa: E402

WEEKDAYS = '{"0":[[480,1080]],"1":[[480,1080]],"2":[[480,1080]],"3":[[480,1080]],' \
           '"4":[[480,1080]]}'


def fleet(conn, sites, kiosks, now):
    rng = random.Random(17)
    with transaction(conn):
        for s in range(sites):
            sid = "site-%04d" % s
            conn.execute("INSERT INTO sites (id, name, created_ms, hours) VALUES (?, ?, 0, ?)",
                         (sid, sid, WEEKDAYS))
            for k in range(kiosks):
                dev = "k%04d-%02d" % (s, k)
                conn.execute("INSERT INTO kiosks (id, site_id, secret_hash, created_ms)"
                             " VALUES (?, ?, 'x', 0)", (dev, sid))
                conn.execute("INSERT INTO kiosk_status (device_id, state, last_seen_ms,"
                             " battery_pct, journal, dropped, clock, uptime_s)"
                             " VALUES (?, 'online', ?, ?, 0, 0, 'ntp', 100)",
                             (dev, now, rng.randrange(10, 100)))
                conn.executemany(
                    "INSERT INTO votes VALUES (?, ?, ?, 1, ?, ?, ?, 4, 0, ?)",
                    [(dev, i, sid, now - i * 60_000, now - i * 60_000, rng.randrange(4), now)
                     for i in range(1, 21)])
            conn.execute("INSERT INTO rollup_changes VALUES (?, 1, ?)", (sid, now))


def ingest_like(conn, now, seq0):
    """The baseline: one transaction of 10,000 votes by executemany."""
    rows = [("bench-%d" % (i % 200), seq0 + i, "site-0000", 1, now, now, i % 4, 4, 0, now)
            for i in range(10_000)]
    with transaction(conn):
        conn.executemany("INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def best(fn, rounds):
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--kiosks", type=int, default=10)
    ap.add_argument("--changed", type=int, default=20, help="sites changed between two quick runs")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    conn = connect(os.path.join(tempfile.mkdtemp(), "bench.db"))
    now = int(time.time() * 1000)
    fleet(conn, a.sites, a.kiosks, now)
    evaluate.evaluate(conn, now)  # the first opens the alerts; later ones update them
    seq = [0]

    def baseline():
        seq[0] += 10_000
        ingest_like(conn, now, seq[0])

    base = best(baseline, a.rounds)
    full = best(lambda: evaluate.evaluate(conn, now), a.rounds)
    conn.execute("UPDATE rollup_changes SET changed_ms = 0 WHERE site_id >= ?",
                 ("site-%04d" % a.changed,))
    quick = best(lambda: evaluate.evaluate(conn, now, now - 5000), a.rounds)
    every = Settings().alert_every_s
    print("%d sites x %d kiosks; best of %d; load average %.2f"
          % (a.sites, a.kiosks, a.rounds, os.getloadavg()[0]))
    print("baseline: one ingest commit of 10,000 votes   %8.1f ms" % (base * 1e3))
    print("full evaluation (every rule)                %8.1f ms  %5.2f x baseline,"
          " %4.1f%% of a core every %d s" % (full * 1e3, full / base, 100 * full / every, every))
    print("quick evaluation (%d changed sites)          %8.1f ms  %5.2f x baseline,"
          " %4.1f%% of a core every %.0f s" % (a.changed, quick * 1e3, quick / base,
                                               100 * quick / service.MIN_GAP_S,
                                               service.MIN_GAP_S))


if __name__ == "__main__":
    main()
