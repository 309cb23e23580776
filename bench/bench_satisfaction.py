"""Latency of the satisfaction endpoint on a year of 10 million votes across
200 sites, next to a COUNT(*) over the raw votes of the same site in the
same run (the baseline a screen would pay without rollups).

    .venv/bin/python bench/bench_satisfaction.py [--votes 10000000] [--sites 200]
        [--requests 300]

The generated database is cached in bench/.cache (generation takes a few
minutes on two cores: votes by SQL, rollups by `rollup.rebuild`, the same
code as `borne rollup --rebuild`). Target: p99 at most 50 ms.
"""
import argparse
import asyncio
import datetime
import os
import random
import re
import sqlite3
import sys
import time

from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage import rollup
from sync_server.storage.connection import open_db
from sync_server.storage.schema import MIGRATIONS
from sync_server.web import access as screen_access
from sync_server.web.app import make_app

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
KIOSKS_PER_SITE = 5
YEAR_START = datetime.date(2025, 11, 24)
PASSWORD = "bench password"


def generate(path, votes, sites):
    """Votes on opening days from 08:00 to 18:00 (about), levels skewed per
    site, 2 % burst-flagged; then the rollups rebuilt from them."""
    tmp = path + ".part"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    db = open_db(tmp)
    c = db.conn
    c.execute("PRAGMA synchronous=OFF")
    c.execute("BEGIN")
    for s in range(sites):
        c.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)",
                  ("site-%03d" % s, "Site %03d" % s))
        for k in range(KIOSKS_PER_SITE):
            c.execute("INSERT INTO kiosks (id, site_id, secret_hash, created_ms)"
                      " VALUES (?, ?, 'x', 0)", ("k%03d-%d" % (s, k), "site-%03d" % s))
    screen_access.add_manager(db, "bench", PASSWORD)
    c.execute("COMMIT")
    start_ms = int(datetime.datetime.combine(
        YEAR_START, datetime.time(7), datetime.timezone.utc).timestamp() * 1000)
    per_kiosk = votes // (sites * KIOSKS_PER_SITE)
    spacing = 365 * 86_400_000 // per_kiosk
    started = time.monotonic()
    rng = random.Random(1)
    for s in range(sites):
        # each site its own mood: thresholds for levels 0..3
        good = rng.randint(40, 75)
        c.execute("BEGIN")
        for k in range(KIOSKS_PER_SITE):
            # A recursive CTE produces the kiosk's votes inside SQLite, in seq
            # order; times spread over the year, inside 10 opening hours a day.
            c.execute(
                "INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
                " flags, received_ms)"
                " WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)"
                " SELECT ?, n, ?, 1, t, t, CASE WHEN r < ? THEN 3 WHEN r < ? THEN 2"
                "  WHEN r < 92 THEN 1 ELSE 0 END, 4, CASE WHEN r % 50 = 7 THEN 4 ELSE 0 END, t"
                " FROM (SELECT n, abs(random()) % 100 AS r,"
                "  ? + (n * ?) / 86400000 * 86400000 + ((n * ?) % 86400000) * 10 / 24 AS t"
                "  FROM i)",
                (per_kiosk, "k%03d-%d" % (s, k), "site-%03d" % s, good, good + 20,
                 start_ms, spacing, spacing))
        c.execute("COMMIT")
        if s % 20 == 19:
            print("  %d sites, %.0f s" % (s + 1, time.monotonic() - started), flush=True)
    t_votes = time.monotonic() - started
    started = time.monotonic()
    rollup.rebuild(c)
    t_rollup = time.monotonic() - started
    c.execute("ANALYZE")
    c.close()
    os.replace(tmp, path)
    print("generated %d votes in %.0f s, rebuilt the rollups in %.0f s"
          % (per_kiosk * sites * KIOSKS_PER_SITE, t_votes, t_rollup))


def is_current(path):
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return version == MIGRATIONS[-1][0]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def count_baseline(path, site_ids, from_day, to_day):
    """COUNT(*) over the raw votes of each site (whole table range of the
    period), timed in ms."""
    conn = sqlite3.connect(path)
    lo = int(datetime.datetime.combine(from_day, datetime.time(0),
                                       datetime.timezone.utc).timestamp() * 1000)
    hi = int(datetime.datetime.combine(to_day + datetime.timedelta(1), datetime.time(0),
                                       datetime.timezone.utc).timestamp() * 1000)
    out = []
    for sid in site_ids:
        t0 = time.perf_counter()
        conn.execute("SELECT count(*) FROM votes WHERE site_id = ? AND utc_ms >= ?"
                     " AND utc_ms < ?", (sid, lo, hi)).fetchone()
        out.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return out


async def timed_gets(path, urls, check):
    """Log in as a manager, GET each URL once; milliseconds per request."""
    app = make_app(path)
    async with TestClient(TestServer(app)) as client:
        page = await (await client.get("/manager/login")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = await client.post("/manager/login", data={"username": "bench", "csrf": csrf,
                                                      "password": PASSWORD},
                              allow_redirects=False)
        assert r.status == 302, "login failed"
        out = []
        for url in urls:
            t0 = time.perf_counter()
            r = await client.get(url)
            body = await r.json()
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status == 200 and check(body), body
        return out


def ranking(path, from_day, to_day, repeat):
    url = "/api/v1/ranking?from=%s&to=%s" % (from_day, to_day)
    return timed_gets(path, [url] * repeat, lambda body: body["sites"][0]["rank"] == 1)


def endpoint(path, site_ids, from_day, to_day):
    urls = ["/api/v1/sites/%s/satisfaction?from=%s&to=%s" % (sid, from_day, to_day)
            for sid in site_ids]
    return timed_gets(path, urls, lambda body: body["sources"]["kiosk"]["n"] > 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--votes", type=int, default=10_000_000)
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".gitignore"), "w") as f:
        f.write("*\n")
    path = os.path.join(CACHE, "satisfaction-%d-%d.db" % (args.votes, args.sites))
    if os.path.exists(path) and not is_current(path):
        os.remove(path)  # made by an older schema
    if not os.path.exists(path):
        print("generating %s (cached for the next runs)" % path, flush=True)
        generate(path, args.votes, args.sites)
    conn = sqlite3.connect(path)
    total = conn.execute("SELECT count(*) FROM rollup_hourly").fetchone()[0]
    conn.close()
    rng = random.Random(2)
    sites = ["site-%03d" % rng.randrange(args.sites) for _ in range(args.requests)]
    print("%d votes, %d sites, %d rollup rows; %d requests per period"
          % (args.votes, args.sites, total, args.requests))
    print("%-22s %9s %9s %12s %12s %8s" % ("period", "p50 ms", "p99 ms", "COUNT p50 ms",
                                           "COUNT p99 ms", "p99/COUNT"))
    last = YEAR_START + datetime.timedelta(364)
    worst = 0.0
    for name, first in (("one day", last), ("30 days", last - datetime.timedelta(29)),
                        ("one year", YEAR_START)):
        base = count_baseline(path, sites, first, last)
        lat = asyncio.run(endpoint(path, sites, first, last))
        worst = max(worst, pct(lat, 99))
        print("%-22s %9.1f %9.1f %12.1f %12.1f %8.2f" % (
            "%s (%s)" % (name, first), pct(lat, 50), pct(lat, 99), pct(base, 50),
            pct(base, 99), pct(lat, 99) / max(pct(base, 99), 1e-6)))
    print("ranking of all %d sites (%d requests each):" % (args.sites, 10))
    for name, first in (("one day", last), ("30 days", last - datetime.timedelta(29)),
                        ("one year", YEAR_START)):
        lat = asyncio.run(ranking(path, first, last, 10))
        print("  %-20s p50 %7.1f ms  max %7.1f ms" % (name, pct(lat, 50), max(lat)))
    print("target p99 <= 50 ms: %s (worst p99 %.1f ms)"
          % ("met" if worst <= 50 else "NOT met", worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
