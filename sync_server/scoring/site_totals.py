"""Each site's figures of one source over a period, kept in memory between
calls so that a ranking of every site over a year reads no rollup row of a
site that has not changed.

A site's figures are kept with the site's change counter
(`rollup.versions`, bumped in the same transaction as every change of its
rollups); each call reads the counters of every site (one small table) and
recomputes from the rollups only the sites whose counter moved since. The
counters live in the database, so changes made by another connection or
process (ingest, `borne rollup --rebuild`) are seen too. Nothing is kept
while the connection is inside a transaction: a rollback would take back
counters the kept figures were read with.

The figures of every site over a period can also be read through another
connection to the same database, in another thread (`prepare`): the
server's pages keep answering meanwhile, and their connection then reads
only the sites changed since (`web.scoring_warm`).

The figures are those of `stats.summary` over the site's counted and
filtered responses, exactly as computed without the cache (`compute`).
A site's figures are replaced, never changed, when read again: a ranking
built from them (`ranked`) knows an unchanged site by its same object."""
import datetime
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sync_server.scoring import stats as scoring
from sync_server.storage import rollup
from sync_server.storage.connection import Db, raw_conn
from sync_server.storage.registry import site_names

# Periods kept per connection (a manager's overview reads four: two
# sources, this period and the previous one; about 4 MB for 5,000 sites
# each) and connections kept.
PERIODS_KEPT = 8
CONNECTIONS_KEPT = 4
# Past this share of stale sites, one pass over the network's rows of the
# period is cheaper than reading each site's own rows.
NETWORK_SHARE = 0.5
CHUNK = 500  # site ids per query

Figures = dict[str, Any]
_lock = threading.Lock()
# id(connection) -> (connection, {(from, to, source): _Kept});
# the connection is held so that its id names no other while kept.
_kept: OrderedDict[int, tuple[Any, OrderedDict[tuple, "_Kept"]]] = OrderedDict()


def compute(db: Db, from_day: datetime.date, to_day: datetime.date, source: str,
            site_ids: Sequence[str] | None) -> dict[str, Figures]:
    """{site: figures} read from the rollups now, of the sites that have
    rows in the period (of `site_ids` when given, else of every site)."""
    counts: defaultdict[str, defaultdict[tuple[int, int], int]] = defaultdict(
        lambda: defaultdict(int))
    filtered: defaultdict[str, int] = defaultdict(int)
    chunks: list[Sequence[str] | None] = (
        [None] if site_ids is None else
        [site_ids[i:i + CHUNK] for i in range(0, len(site_ids), CHUNK)])
    for chunk in chunks:
        for sid, scale, level, filt, n in rollup.per_site_level_counts(
                db, from_day, to_day, source, chunk):
            if filt:
                filtered[sid] += n
            else:
                counts[sid][(scale, level)] += n
    return {sid: scoring.summary(counts.get(sid, {}), filtered.get(sid, 0))
            for sid in set(counts) | set(filtered)}


class _Kept:
    """The figures of one period and source, and the change counter each
    site's figures were read at."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.figures: dict[str, Figures] = {}
        self.network = False  # every site in service read once (`prepare`)


def _period(conn, key, create=True):
    entry = _kept.get(id(conn))
    if not create:
        return None if entry is None or entry[0] is not conn else entry[1].get(key)
    if entry is None or entry[0] is not conn:
        entry = (conn, OrderedDict())
        _kept[id(conn)] = entry
        while len(_kept) > CONNECTIONS_KEPT:
            _kept.popitem(last=False)
    _kept.move_to_end(id(conn))
    periods = entry[1]
    kept = periods.get(key)
    if kept is None:
        kept = periods[key] = _Kept()
        while len(periods) > PERIODS_KEPT:
            periods.popitem(last=False)
    periods.move_to_end(key)
    return kept


def figures(db: Db, from_day: datetime.date, to_day: datetime.date, source: str,
            site_ids: Sequence[str]) -> Mapping[str, Figures]:
    """{site: figures} holding each of `site_ids` over [from_day, to_day]
    (the empty figures for a site without responses), as `compute` gives
    them, and maybe other sites. Shared: copy a figure before changing it."""
    conn = raw_conn(db)
    if conn.in_transaction:
        fresh = compute(db, from_day, to_day, source, list(site_ids))
        empty = scoring.summary({})
        return {sid: fresh.get(sid, empty) for sid in site_ids}
    # The counters first: a change committed after this read is read again
    # next time, never kept under a counter older than the rows read.
    # Counters only grow (a site's row in rollup_changes is never deleted).
    wanted = set(site_ids)
    with _lock:
        kept = _period(conn, (from_day, to_day, source))
        moved, counted = rollup.versions_other_than(conn, kept.versions)
        stale = sorted((wanted - kept.versions.keys()) | (moved.keys() & wanted))
        if stale:
            network = len(stale) > NETWORK_SHARE * max(counted, 1)
            fresh = compute(db, from_day, to_day, source, None if network else stale)
            empty = scoring.summary({})
            for sid in stale:
                kept.versions[sid] = moved.get(sid, 0)
                kept.figures[sid] = fresh.get(sid, empty)
        return kept.figures


def needs_reading(db: Db, from_day: datetime.date, to_day: datetime.date, source: str,
                  site_ids: Sequence[str] | None, most: int) -> bool:
    """Whether a `figures` call for `site_ids` (None: every site) would
    read the rollups of more than `most` sites never read for `db` (those
    changed since they were read are not counted); reads no database."""
    with _lock:
        kept = _period(raw_conn(db), (from_day, to_day, source), create=False)
        if site_ids is None:
            return kept is None or not kept.network
        if len(site_ids) <= most:
            return False
        known = {} if kept is None else kept.versions
        return sum(1 for sid in site_ids if sid not in known) > most


def prepare(db: Db, reader: Db, from_day: datetime.date, to_day: datetime.date,
            source: str) -> None:
    """Read the figures of every site in service over the period through
    `reader`, another connection to the same database (in another thread:
    `db` keeps serving meanwhile), and keep them for `db`, whose next
    `figures` call then reads only the sites changed since."""
    reader = raw_conn(reader)
    if reader.in_transaction:
        raise ValueError("prepare reads committed rows only: the reader is in a transaction")
    now = rollup.all_versions(reader)  # before the rows, as in `figures`
    fresh = compute(reader, from_day, to_day, source, None)
    empty = scoring.summary({})
    with _lock:
        kept = _period(raw_conn(db), (from_day, to_day, source))
        for sid, _name in site_names(reader):
            version = now.get(sid, 0)
            if kept.versions.get(sid, -1) < version:  # not what `db` read since
                kept.versions[sid] = version
                kept.figures[sid] = fresh.get(sid, empty)
        kept.network = True


def forget() -> None:
    """Drop every kept figure (the next call reads the rollups again)."""
    with _lock:
        _kept.clear()
