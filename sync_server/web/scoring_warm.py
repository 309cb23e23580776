"""Every site's figures of a period read off the event loop.

A ranking of the network over a period nobody asked for yet reads every
site's rollups: seconds for 5,000 sites over a year. That reading is done
here, in a thread on its own SQLite connection (`site_totals.prepare`), so
the pages and the API keep answering meanwhile; the request then reads on
the loop only the sites changed since. At startup the thread reads the
default period of the pages and the API (the 30 days to today) and the one
before it, for each level source, so that the first manager sees no wait.
"""
import asyncio
import concurrent.futures
import datetime
import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web

from sync_server.scoring import report as scoring_report
from sync_server.scoring import site_totals
from sync_server.storage.connection import connect
from sync_server.web.keys import DB, SETTINGS

log = logging.getLogger("borne.scoring")

# A request reads on the loop the figures of at most this many sites not
# read yet (about 20 ms over a year); past that, the thread reads them.
READ_ON_LOOP = 50


class Warm:
    """The reading thread, its connection and the readings under way."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="scoring")
        self._conn = None
        self._pending: dict[tuple, asyncio.Future] = {}
        self.startup: asyncio.Task | None = None  # the default periods' reading

    def _prepare(self, from_day, to_day, source):
        if self._conn is None:
            self._conn = connect(self.app[SETTINGS]["db_path"])
        site_totals.prepare(self.app[DB], self._conn, from_day, to_day, source)

    async def read(self, from_day: datetime.date, to_day: datetime.date, source: str) -> None:
        """Every site's figures of the period kept for `app[DB]`, read in
        the thread; one reading for concurrent requests of the period."""
        key = (from_day, to_day, source)
        fut = self._pending.get(key)
        if fut is None:
            fut = asyncio.get_running_loop().run_in_executor(
                self._pool, self._prepare, from_day, to_day, source)
            self._pending[key] = fut
            fut.add_done_callback(lambda _f: self._pending.pop(key, None))
        await asyncio.shield(fut)

    def _close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def stop(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._close)
        self._pool.shutdown(wait=False, cancel_futures=True)


WARM = web.AppKey("scoring_warm", Warm)


async def ready(app: web.Application, from_day: datetime.date, to_day: datetime.date,
                sources: Iterable[str], site_ids: Iterable[str] | None) -> None:
    """Before a ranking of `site_ids` (None: every site): have the thread
    read the period's figures when the request would read more than
    READ_ON_LOOP sites itself."""
    warm = app.get(WARM)
    if warm is None:
        return
    ids = None if site_ids is None else list(site_ids)
    for source in sources:
        if site_totals.needs_reading(app[DB], from_day, to_day, source, ids, READ_ON_LOOP):
            try:
                await warm.read(from_day, to_day, source)
            except Exception:  # the ranking then reads the figures itself
                log.exception("reading the figures of %s..%s (%s)", from_day, to_day, source)


def default_periods(today: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """The pages' and the API's default period and the one before it."""
    now = scoring_report.period(None, None, today)
    return [now, scoring_report.previous(*now)]


async def _startup(warm: Warm) -> None:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    for from_day, to_day in default_periods(today):
        for source in scoring_report.LEVEL_SOURCES:
            try:
                await warm.read(from_day, to_day, source)
            except Exception:  # a fault here must not stop the server
                log.exception("reading the figures of %s..%s (%s)", from_day, to_day, source)


def setup(app: web.Application) -> None:
    """Start the thread with the app and read the default periods (not on
    an ingest-only worker: it has no pages)."""
    if app[SETTINGS].get("ingest_only"):
        return
    warm = app[WARM] = Warm(app)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        warm.startup = asyncio.ensure_future(_startup(warm))
        try:
            yield
        finally:
            warm.startup.cancel()
            await warm.stop()

    app.cleanup_ctx.append(ctx)
