"""Per-site rollups of responses (site x local day x local hour x source x
scale x level x filter, and the same per day), so that screens never scan
raw votes.

`apply_votes` keeps them up to date inside the ingest transaction;
`rebuild` recomputes them from the raw rows (`borne rollup --rebuild`) and
must give the same table. Each change bumps the site's row in
`rollup_changes`, which live screens poll to know when to refresh.
"""
import datetime
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sync_server.storage.connection import Db, raw_conn, transaction
from sync_server.storage.registry import DEFAULT_TZ, site_zones

# Vote flags that keep a response out of the scores (it stays in the
# rollups, counted as filtered): 2 outside opening hours, 4 burst suspect.
FILTER_MASK = 6
# Every UTC offset in use is a multiple of 15 minutes, so a quarter-hour of
# UTC maps to exactly one local (day, hour).
QUARTER_MS = 900_000

_local_cache: dict[tuple[str, int], tuple[str, int]] = {}


def zone_info(name: str | None) -> zoneinfo.ZoneInfo:
    """The ZoneInfo of a time zone name; the default zone for a bad one."""
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_TZ)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TZ)


def local_bucket(tz_name: str, utc_ms: int) -> tuple[str, int]:
    """(local day 'YYYY-MM-DD', local hour) of a UTC instant in a zone."""
    key = (tz_name, utc_ms // QUARTER_MS)
    hit = _local_cache.get(key)
    if hit is None:
        if len(_local_cache) > 200_000:
            _local_cache.clear()
        t = datetime.datetime.fromtimestamp(key[1] * QUARTER_MS / 1000, zone_info(tz_name))
        hit = (t.strftime("%Y-%m-%d"), t.hour)
        _local_cache[key] = hit
    return hit


def _field(row, name, default=0):
    try:
        value = row[name]
    except (KeyError, IndexError):
        return default
    return default if value is None else value


def apply_votes(conn: Db, rows: Any, source: str = "kiosk") -> int:
    """Add newly stored, dated responses to the rollups, inside the caller's
    transaction. rows: iterable of dicts with site_id, utc_ms, level, scale,
    flags; or an object whose `rollup_columns()` gives groups of columns
    (site ids, utc_ms, levels, scales, flags), all dated, which ingest uses
    to spare a dict per vote. Called for each vote inserted for the first
    time, and for pending votes when their boot's anchor arrives."""
    # Count per UTC quarter-hour first, on the values as given (ingest calls
    # this per batch: no function call per row), then turn each quarter into
    # its local (day, hour) and normalise the values once.
    columns = getattr(rows, "rollup_columns", None)
    if columns is not None:
        keys: list[tuple] = []
        for sites, utcs, levels, scales, flags in columns():
            keys += zip(sites, map(QUARTER_MS.__rfloordiv__, utcs), scales, levels, flags)
    else:
        if not isinstance(rows, list):
            rows = list(rows)
        try:
            keys = [(r["site_id"], utc // QUARTER_MS, r["scale"], r["level"], r.get("flags"))
                    for r in rows if (utc := r.get("utc_ms")) is not None]
        except AttributeError:  # rows without get(), such as sqlite3.Row
            keys = [(r["site_id"], r["utc_ms"] // QUARTER_MS, r["scale"], r["level"],
                     _field(r, "flags")) for r in rows if _field(r, "utc_ms", None) is not None]
    if not keys:
        return 0
    quarters = Counter(keys)
    zones = site_zones(conn, {k[0] for k in quarters})
    counts: Counter[tuple] = Counter()
    for (sid, quarter, scale, level, flags), n in quarters.items():
        day, hour = local_bucket(zones[sid], quarter * QUARTER_MS)
        counts[(sid, day, hour, source, int(scale), int(level),
                int(flags or 0) & FILTER_MASK)] += n
    _add(conn, counts)
    return len(keys)


def _add(conn, counts):
    """Add hourly counts {(site, day, hour, source, scale, level, filt): n}
    to both rollup tables."""
    c = raw_conn(conn)
    c.executemany(
        "INSERT INTO rollup_hourly (site_id, day, hour, source, scale, level, filt, n)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (site_id, day, hour, source, scale, level, filt)"
        " DO UPDATE SET n = n + excluded.n",
        [k + (n,) for k, n in counts.items()])
    daily = Counter()
    for (sid, day, _hour, source, scale, level, filt), n in counts.items():
        daily[(sid, day, source, scale, level, filt)] += n
    c.executemany(
        "INSERT INTO rollup_daily (site_id, day, source, scale, level, filt, n)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (site_id, day, source, scale, level, filt)"
        " DO UPDATE SET n = n + excluded.n",
        [k + (n,) for k, n in daily.items()])
    bump(conn, {k[0] for k in counts})


def bump(conn: Db, site_ids: Iterable[str]) -> None:
    """Mark the sites' figures as changed (live screens poll this)."""
    now = int(time.time() * 1000)
    raw_conn(conn).executemany(
        "INSERT INTO rollup_changes (site_id, version, changed_ms) VALUES (?, 1, ?)"
        " ON CONFLICT (site_id) DO UPDATE SET version = version + 1,"
        " changed_ms = excluded.changed_ms",
        [(sid, now) for sid in sorted(site_ids)])


def versions(conn: Db, site_ids: Iterable[str]) -> dict[str, int]:
    """{site_id: change counter} for the given sites (0 when never changed)."""
    ids = list(site_ids)
    out = dict.fromkeys(ids, 0)
    if ids:
        marks = ",".join("?" * len(ids))
        for sid, v in raw_conn(conn).execute(
                "SELECT site_id, version FROM rollup_changes WHERE site_id IN (%s)" % marks,
                ids):
            out[sid] = v
    return out


def all_versions(conn: Db) -> dict[str, int]:
    """{site_id: change counter} of every site that ever changed."""
    return dict(raw_conn(conn).execute("SELECT site_id, version FROM rollup_changes"))


def versions_other_than(conn: Db, known: Mapping[str, int]) -> tuple[dict[str, int], int]:
    """({site_id: change counter} of the sites whose counter is not the one
    in `known`, absent from it included; how many sites have a counter),
    compared row by row: nothing is built for the sites unchanged."""
    out = {}
    get = known.get
    n = 0
    for sid, version in raw_conn(conn).execute("SELECT site_id, version FROM rollup_changes"):
        n += 1
        if get(sid) != version:
            out[sid] = version
    return out, n


# Raw sources for a rebuild: source name -> SQL giving, for one site,
# (utc quarter-hour, scale, level, filter, count). A source whose table does
# not exist yet is skipped.
RAW_SOURCES = {
    "kiosk": ("votes",
              "SELECT utc_ms / %d, scale, level, flags & %d, count(*) FROM votes"
              " WHERE site_id = ? AND utc_ms IS NOT NULL"
              " GROUP BY 1, 2, 3, 4" % (QUARTER_MS, FILTER_MASK)),
    "qr": ("qr_answers",
           "SELECT created_ms / %d, scale, level, 0, count(*) FROM qr_answers"
           " WHERE site_id = ? GROUP BY 1, 2, 3" % QUARTER_MS),
}


def register_source(name: str, table: str, sql: str) -> None:
    """Let another module's raw table take part in `rebuild` (same columns
    as RAW_SOURCES; `?` is the site id)."""
    RAW_SOURCES[name] = (table, sql)


def _tables(c):
    return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def rebuild(conn: Db, site_ids: Iterable[str] | None = None) -> int:
    """Recompute the rollups of the given sites (all when None) from raw rows,
    in one transaction. Returns the number of responses rolled up."""
    with transaction(raw_conn(conn)) as c:
        known = _tables(c)
        if site_ids is None:
            ids: set[str] = set()
            for table, _sql in RAW_SOURCES.values():
                if table in known:
                    ids.update(r[0] for r in c.execute(
                        "SELECT DISTINCT site_id FROM %s" % table))
            ids.update(r[0] for r in c.execute("SELECT DISTINCT site_id FROM rollup_hourly"))
            c.execute("DELETE FROM rollup_hourly")
            c.execute("DELETE FROM rollup_daily")
        else:
            ids = set(site_ids)
            for table in ("rollup_hourly", "rollup_daily"):
                c.executemany("DELETE FROM %s WHERE site_id = ?" % table, [(s,) for s in ids])
        zones = site_zones(c, ids)
        total = 0
        for sid in sorted(ids):
            counts: Counter[tuple] = Counter()
            tz = zones[sid]
            for source, (table, sql) in RAW_SOURCES.items():
                if table not in known:
                    continue
                for quarter, scale, level, filt, n in c.execute(sql, (sid,)):
                    day, hour = local_bucket(tz, quarter * QUARTER_MS)
                    counts[(sid, day, hour, source, scale, level, filt)] += n
                    total += n
            if counts:
                _add(c, counts)
        bump(c, ids)
    return total


# ---------------------------------------------------------------- reading
# Days are datetime.date; `sources` a sequence of source names.


def _in(values):
    return ",".join("?" * len(values))


def site_level_counts(conn: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                      sources: Sequence[str], hourly: bool = True) -> list[tuple]:
    """(source, hour, scale, level, filt, n) summed over the days; hour is
    None when `hourly` is false (read from the smaller daily table)."""
    if hourly:
        sql = ("SELECT source, hour, scale, level, filt, sum(n) FROM rollup_hourly"
               " WHERE site_id = ? AND day BETWEEN ? AND ? AND source IN (%s)"
               " GROUP BY source, hour, scale, level, filt")
    else:
        sql = ("SELECT source, NULL, scale, level, filt, sum(n) FROM rollup_daily"
               " WHERE site_id = ? AND day BETWEEN ? AND ? AND source IN (%s)"
               " GROUP BY source, scale, level, filt")
    return raw_conn(conn).execute(
        sql % _in(sources), (site_id, from_day.isoformat(), to_day.isoformat()) + tuple(sources)
    ).fetchall()


def network_level_counts(conn: Db, from_day: datetime.date, to_day: datetime.date,
                         sources: Sequence[str]) -> list[tuple]:
    """(source, scale, level, n) of every site, filtered responses left out."""
    return raw_conn(conn).execute(
        "SELECT source, scale, level, sum(n) FROM rollup_daily"
        " WHERE day BETWEEN ? AND ? AND filt = 0 AND source IN (%s)"
        " GROUP BY source, scale, level" % _in(sources),
        (from_day.isoformat(), to_day.isoformat()) + tuple(sources)).fetchall()


def hourly_rows(conn: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                sources: Sequence[str]) -> list[list]:
    """The rollup rows themselves: [day, hour, source, scale, level, filt, n]."""
    return [list(r) for r in raw_conn(conn).execute(
        "SELECT day, hour, source, scale, level, filt, n FROM rollup_hourly"
        " WHERE site_id = ? AND day BETWEEN ? AND ? AND source IN (%s)"
        " ORDER BY day, hour, source, scale, level, filt" % _in(sources),
        (site_id, from_day.isoformat(), to_day.isoformat()) + tuple(sources))]


def daily_level_counts(conn: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                       source: str) -> list[tuple]:
    """(day, scale, level, n) of one source, filtered responses left out."""
    return raw_conn(conn).execute(
        "SELECT day, scale, level, sum(n) FROM rollup_daily"
        " WHERE site_id = ? AND day BETWEEN ? AND ? AND source = ? AND filt = 0"
        " GROUP BY day, scale, level",
        (site_id, from_day.isoformat(), to_day.isoformat(), source)).fetchall()


def per_site_level_counts(conn: Db, from_day: datetime.date, to_day: datetime.date,
                          source: str, site_ids: Sequence[str] | None = None) -> list[tuple]:
    """(site_id, scale, level, filt, n) of one source over the days, of
    every site or of `site_ids` (read through each site's own rows then: a
    manager's few sites never scan the network's)."""
    args = (from_day.isoformat(), to_day.isoformat(), source)
    if site_ids is None:
        return raw_conn(conn).execute(
            "SELECT site_id, scale, level, filt, sum(n) FROM rollup_daily"
            " WHERE day BETWEEN ? AND ? AND source = ? GROUP BY site_id, scale, level, filt",
            args).fetchall()
    if not site_ids:
        return []
    return raw_conn(conn).execute(
        # `+day`: the day index would scan every site's rows of the period
        "SELECT site_id, scale, level, filt, sum(n) FROM rollup_daily WHERE site_id IN (%s)"
        " AND +day BETWEEN ? AND ? AND source = ? GROUP BY site_id, scale, level, filt"
        % _in(site_ids),
        tuple(site_ids) + args).fetchall()
