"""The server's alert loop (a cleanup context of the app): evaluate the rules
every `alert_every_s` seconds and soon after each ingest commit (at most
every MIN_GAP_S), then send the messages that are due, retrying a failed
one after alert_retry_s, twice that, four times... up to MAX_ATTEMPTS.

The loop works on its own SQLite connection in its own thread, like ingest,
so neither the pages nor ingest wait for it."""
import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from sync_server.alerts import delivery, evaluate
from sync_server.storage import alerts as store
from sync_server.storage.connection import connect, now_ms

log = logging.getLogger("borne.alerts")

MIN_GAP_S = 2.0
SINCE_MARGIN_MS = 5000
MAX_ATTEMPTS = 8
SERVICE = web.AppKey("alerts", object)


class Service:
    def __init__(self, db_path: str, settings: dict[str, Any],
                 changed: asyncio.Event | None = None) -> None:
        self.db_path = db_path
        self.settings = settings
        self.every_s = float(settings.get("alert_every_s") or 60)
        self.retry_s = float(settings.get("alert_retry_s") or 30)
        self.changed = changed  # set by ingest after each commit
        self.stopping = asyncio.Event()
        self.stats = {"evaluations": 0, "quick": 0, "opened": 0, "resolved": 0, "sent": 0,
                      "retries": 0, "failed": 0}
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="alerts")
        self._conn = None
        self._cfg: delivery.Config | None = None
        self._last = 0.0  # monotonic time of the last evaluation
        self._last_ms = 0  # its UTC time
        self._full = 0.0  # monotonic time of the last full evaluation

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _open(self):
        self._conn = connect(self.db_path)
        self._cfg = delivery.Config.from_settings(self.settings, self._conn)

    async def run(self) -> None:
        await self._db(self._open)
        try:
            while not self.stopping.is_set():
                await self.step()
                while True:
                    if await self._wait():  # woken by a commit: the quick evaluation
                        await self.step(quick=True)
                    elif self.stopping.is_set() or time.monotonic() - self._full >= self.every_s:
                        break
                    else:  # a message's retry is due
                        await self._guarded(self.deliver())
        finally:
            if self._conn is not None:
                await self._db(self._conn.close)
            self._pool.shutdown(wait=True)

    async def step(self, quick: bool = False) -> None:
        """One evaluation (quick: only the spikes of the sites whose figures
        changed since the last one), then the messages due."""
        since, self._last_ms = self._last_ms, now_ms()
        self._last = time.monotonic()
        if not quick:
            self._full = self._last
        try:
            # A commit stamped just before the last evaluation may have become
            # visible just after it: look SINCE_MARGIN_MS further back.
            out = await self._db(evaluate.evaluate, self._conn, self._last_ms,
                                 since - SINCE_MARGIN_MS if quick else None)
            self.stats["quick" if quick else "evaluations"] += 1
            self.stats["opened"] += len(out.opened)
            self.stats["resolved"] += len(out.resolved)
            if out.opened or out.resolved:
                log.info("alerts: %d opened, %d resolved, %d messages queued",
                         len(out.opened), len(out.resolved), out.queued)
            await self.deliver()
        except Exception:  # a busy database or a bug must not end the loop
            log.exception("alert evaluation failed")

    async def _wait(self) -> bool:
        """Until the next full evaluation is due (True: woken by a commit first)."""
        timeout = max(0.0, self.every_s - (time.monotonic() - self._full))
        due = await self._db(store.next_due_ms, self._conn)
        if due is not None:
            timeout = min(timeout, max(0.0, (due - now_ms()) / 1000))
        waits = [asyncio.ensure_future(self.stopping.wait())]
        if self.changed is not None:
            waits.append(asyncio.ensure_future(self.changed.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if self.changed is not None and self.changed.is_set():
            # Woken by a commit: evaluate now, but not within MIN_GAP_S of the last time.
            self.changed.clear()
            gap = MIN_GAP_S - (time.monotonic() - self._last)
            if gap > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), gap)
            return not self.stopping.is_set()
        return False

    async def _guarded(self, work) -> None:
        try:
            await work
        except Exception:
            log.exception("sending alert messages failed")

    async def deliver(self) -> None:
        due = await self._db(store.due_deliveries, self._conn, now_ms())
        await asyncio.gather(*[self._one(d) for d in due])

    async def _one(self, d: dict) -> None:
        alert = None
        if d["alert_id"] is not None:
            alert = await self._db(store.get_alert, self._conn, d["alert_id"])
            skip = alert is None
            if d["event"] == "opened" and alert is not None:
                skip = alert["state"] != "open"  # acknowledged or over before it could leave
            elif d["event"] == "resolved" and alert is not None:
                skip = not await self._db(store.opening_sent, self._conn, alert["id"],
                                          d["channel"], d["target"])
            if skip:
                await self._db(store.delivery_done, self._conn, d["id"], "skipped")
                return
        assert self._cfg is not None
        try:
            await delivery.send(self._cfg, d["channel"], d["target"], alert, d["event"])
        except delivery.DeliveryError as e:
            attempts = d["attempts"] + 1
            if attempts >= MAX_ATTEMPTS:
                self.stats["failed"] += 1
                log.error("alert message %d to %s failed for good: %s", d["id"], d["target"], e)
                await self._db(store.delivery_done, self._conn, d["id"], "failed", str(e))
            else:
                self.stats["retries"] += 1
                retry = now_ms() + int(self.retry_s * 1000 * 2 ** (attempts - 1))
                log.warning("alert message %d to %s failed (attempt %d): %s; retrying",
                            d["id"], d["target"], attempts, e)
                await self._db(store.delivery_done, self._conn, d["id"], "pending", str(e),
                               retry)
            return
        self.stats["sent"] += 1
        await self._db(store.delivery_done, self._conn, d["id"], "sent")


async def send_test(settings: dict[str, Any], db_path: str,
                    targets: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
    """Send a test message to each (channel, target) now, without queueing:
    [(channel, target, error or None)]."""
    conn = connect(db_path)
    try:
        cfg = delivery.Config.from_settings(settings, conn)
    finally:
        conn.close()
    out: list[tuple[str, str, str | None]] = []
    for channel, target in targets:
        try:
            await delivery.send(cfg, channel, target, None, "test")
            out.append((channel, target, None))
        except delivery.DeliveryError as e:
            out.append((channel, target, str(e)))
    return out


def setup(app: web.Application, db_path: str, settings: dict[str, Any],
          changed: asyncio.Event | None) -> None:
    """Run the loop with the app (not on an ingest-only worker)."""
    service = Service(db_path, settings, changed)
    app[SERVICE] = service

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.ensure_future(service.run())
        try:
            yield
        finally:
            service.stopping.set()
            try:
                await asyncio.wait_for(task, 30)
            except Exception:
                log.exception("alert loop did not stop cleanly")

    app.cleanup_ctx.append(ctx)
