"""The server's MQTT client: receive kiosk messages, ingest them in batches,
send acks after the commit, publish configs and the time.

Threading: all SQLite work of this module runs in one worker thread (a
single-thread executor) on the `Ingest` object's own connection; the event
loop only moves messages. While one batch commits, the next is taken and
queued behind it, and the acks of the one before go out.

Only aiomqtt's public API is used (`Client`, its `queue_type` and
`max_queued_incoming_messages` options, `messages`, `publish`, `subscribe`).
Its caveats, designed around here:
- aiomqtt (paho underneath) acknowledges a QoS 1 message (PUBACK) before our
  code sees it. A message lost in a crash after PUBACK is resent by its
  kiosk, which waits for the application ack sent after the commit.
- Its incoming queue drops messages once full, after their PUBACK: the queue
  is left unbounded (`max_queued_incoming_messages=0`), never bounded
  silently.
- It does not reconnect by itself: `run` loops with backoff. Clean sessions:
  a worker that goes away must not keep a share of the messages queued for
  itself.
- `publish` on a dead connection waits for its timeout: when the connection
  drops, the message iterator raises, the session ends and cancels the
  publishing task.
"""
import asyncio
import concurrent.futures
import logging
import time

import aiomqtt

from protocol import server_wire as w
from sync_server.broker.url import parse_broker_url
from sync_server.ingest import control, ota_offers
from sync_server.ingest.writer import Ingest
from sync_server.storage import registry
from sync_server.storage.credentials import SERVER_USER

log = logging.getLogger("borne.mqtt")

MAX_BATCH = 200  # messages per transaction: small enough to overlap arrival and commit
ACK_TIMEOUT_S = 10  # a QoS 0 publish not written by then means the connection is gone
SHARE_GROUP = "borne-ingest"
KEEPALIVE_S = 30  # paho drops a silent broker after an unanswered ping: two of these at most
# A QoS 1 probe on the link's own topic (nobody reads it) every PROBE_S: a
# broker that has not acknowledged one after another PROBE_S is reported
# down, well within KEEPALIVE_S, while paho takes up to two keepalives.
PROBE_S = 10
REFUSAL_LOG_S = 10.0  # refusals are logged as counts per interval of this length


class Link:
    """One server connection to the broker.

    ingest_only: take votes only (no status, telemetry, config or time).
    shared: subscribe to votes through `$share/borne-ingest/...` so several
    servers split them (Mosquitto; amqtt has no shared subscriptions)."""

    def __init__(self, db_path, url, ingest_only=False, shared=True, time_every_s=600,
                 watch_every_s=1.0):
        self.db_path = db_path
        self.host, self.port, self.user, self.password = parse_broker_url(url)[:4]
        self.user = self.user or SERVER_USER
        self.ingest_only = ingest_only
        self.shared = shared
        self.time_every_s = time_every_s
        self.watch_every_s = watch_every_s
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.stats = {"messages": 0, "new_votes": 0, "duplicates": 0, "rejected": 0,
                      "acks": 0, "batches": 0, "connections": 0, "undatable": 0}
        self.refused: dict[str, int] = {}  # reason code -> messages refused since start
        self.connected = False  # a session is up now (`ready` stays set once it was)
        self.changed = asyncio.Event()  # set after each commit: the alert loop waits on it
        self._refused_since: dict[str, int] = {}  # not yet logged
        self._refusal_logged = 0.0  # monotonic time of the last refusal line
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ingest")
        self._ingest = None
        self._published = {}  # device -> config payload last published (retained)
        self._offered: dict[str, bytes] = {}  # device -> update offer published (retained)
        self._offers_seeded = False
        self._mark = None
        self._live = False  # the current session got connected
        self._inbox: asyncio.Queue = asyncio.Queue()  # replaced by each session's

    async def _db(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def run(self) -> None:
        self._ingest = await self._db(Ingest, self.db_path)
        if self.password is None:
            self.password = await self._db(registry.server_secret, self._ingest.conn)
        delay = 0.2
        reporter = asyncio.ensure_future(self._report_refusals())
        try:
            while not self.stopping.is_set():
                try:
                    await self._session()
                    delay = 0.2
                except Exception as e:  # MqttError, or a bug: never stop ingest for good
                    if self.stopping.is_set():
                        break
                    if not isinstance(e, aiomqtt.MqttError):
                        log.exception("MQTT session failed")
                    if self._live:  # a session that worked: retry quickly
                        delay, self._live = 0.2, False
                    log.warning("broker %s:%d: %s; reconnecting in %.1f s",
                                self.host, self.port, e, delay)
                    try:
                        await asyncio.wait_for(self.stopping.wait(), delay)
                    except asyncio.TimeoutError:
                        pass
                    delay = min(delay * 2, 10.0)
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
            self._log_refusals()
            await self._db(self._ingest.close)
            self._pool.shutdown(wait=True)

    async def _session(self):
        link = self

        class Inbox(asyncio.Queue):
            """aiomqtt's incoming queue, kept at hand to take in one go what
            has already arrived (its iterator costs a task per message)."""

            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(maxsize)
                link._inbox = self

        async with aiomqtt.Client(self.host, self.port, username=self.user,
                                  password=self.password, identifier=self.user,
                                  clean_session=True, keepalive=KEEPALIVE_S, timeout=30,
                                  queue_type=Inbox, max_queued_incoming_messages=0,
                                  # paho's default of 20 acks in flight would
                                  # hold acks back behind their PUBACKs.
                                  max_inflight_messages=1000) as client:
            self.stats["connections"] += 1
            self._live = True
            try:
                await self._connected_session(client)
            finally:
                self.connected = False

    async def _connected_session(self, client):
        """Subscribe, then consume until the connection drops."""
        votes = w.TOPIC_ROOT + "+/votes"
        if self.shared:
            votes = "$share/%s/%s" % (SHARE_GROUP, votes)
        await client.subscribe(votes, qos=1)
        side = None
        probe = asyncio.ensure_future(self._probe(client))
        if not self.ingest_only:
            await client.subscribe(w.TOPIC_ROOT + "+/status", qos=1)
            await client.subscribe(w.TOPIC_ROOT + "+/telemetry", qos=1)
            await client.subscribe(w.TOPIC_ROOT + "+/fetch", qos=0)
            await client.subscribe(w.TOPIC_ROOT + "+/update", qos=1)
            self._published.clear()  # a restarted broker may have lost retained configs
            self._offered = {}
            self._offers_seeded = False
            self._mark = None
            side = asyncio.ensure_future(self._control(client))
        log.info("connected to %s:%d as %s", self.host, self.port, self.user)
        self.connected = True
        self.ready.set()
        # aiomqtt warns above 10 concurrent publications; acks are many.
        client.pending_calls_threshold = 1 << 30
        try:
            await self._consume(client)
        finally:
            for task in (side, probe):
                if task:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

    async def _probe(self, client):
        """Keep `connected` true only while the broker answers."""
        topic = "%s%s/probe" % (w.TOPIC_ROOT, self.user)
        while True:
            started = time.monotonic()
            try:
                await asyncio.wait_for(client.publish(topic, b"", qos=1), PROBE_S)
            except asyncio.TimeoutError:
                if self.connected:
                    log.warning("broker %s:%d silent for %d s", self.host, self.port, PROBE_S)
                self.connected = False
                continue  # paho ends the session if the silence lasts
            if not self.connected:
                log.info("broker %s:%d answers again", self.host, self.port)
            self.connected = True
            await asyncio.sleep(max(0.0, PROBE_S - (time.monotonic() - started)))

    async def _consume(self, client):
        """Take batches of messages and store them, pipelined: each batch is
        handed to the ingest thread as soon as it is taken, so the thread
        starts on it the moment the previous commit returns, while this loop
        sends the previous batch's acks. Acks still go out strictly after
        their own batch's commit, batch after batch in order."""
        messages = client.messages
        queued = self._inbox
        stop = asyncio.ensure_future(self.stopping.wait())
        nxt = None
        held = None  # (future of the commit, messages) of the batch not yet acked
        try:
            while not self.stopping.is_set():
                if nxt is None:
                    nxt = asyncio.ensure_future(anext(messages))
                waits = {nxt, stop}
                if held:
                    waits.add(held[0])
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    if held and held[0] in done:  # committed, nothing new yet: ack now
                        prev, held = held, None
                        await self._acks_of(client, prev)
                        continue
                    break
                batch = [nxt.result()]
                nxt = None
                # Take what has already arrived without a task per message.
                while len(batch) < MAX_BATCH and not queued.empty():
                    batch.append(queued.get_nowait())
                items = [(m.topic.value, bytes(m.payload or b""), bool(m.retain))
                         for m in batch]
                fut = asyncio.get_running_loop().run_in_executor(
                    self._pool, self._ingest.process, items)
                prev, held = held, (fut, len(items))
                if prev:
                    await self._acks_of(client, prev)
        finally:
            stop.cancel()
            if nxt is not None:
                nxt.cancel()
                await asyncio.gather(nxt, return_exceptions=True)
            if held:  # on SIGTERM the batch in hand is committed and acked
                await self._acks_of(client, held)

    async def _acks_of(self, client, held):
        """Wait for a batch's commit, then send its acks. Shielded: the batch
        in hand is acked even if this task is cancelled meanwhile."""
        try:
            await asyncio.shield(self._handle(client, *held))
        except aiomqtt.MqttError:
            raise
        except Exception:
            # Nothing was committed or acked: the kiosks resend.
            log.exception("storing %d messages failed; retrying after a pause", held[1])
            await asyncio.sleep(1.0)

    async def _handle(self, client, fut, n):
        started = time.perf_counter()
        out = await fut
        log.debug("stored %d messages (waited %.1f ms)", n,
                  (time.perf_counter() - started) * 1e3)
        s = self.stats
        s["batches"] += 1
        s["messages"] += n
        s["new_votes"] += out.new_votes
        s["duplicates"] += out.duplicates
        s["rejected"] += out.rejected
        s["undatable"] += out.undatable
        if out.refused:
            self._count_refusals(out.refused)
        self.changed.set()
        # The commit is done: now the kiosks may forget these votes.
        msgs = [(t, p, False) for t, p in out.acks + out.replies]
        if out.online:
            t = w.encode_time(int(time.time() * 1000))
            msgs += [(w.topic(d, "time"), t, False) for d in out.online]
        await _send_now(client, msgs)
        s["acks"] += len(out.acks)

    def _count_refusals(self, refused: dict[str, int]) -> None:
        """Count refusals; the first after a quiet interval is logged at
        once, the rest of a burst as counts per interval."""
        for code, n in refused.items():
            self.refused[code] = self.refused.get(code, 0) + n
            self._refused_since[code] = self._refused_since.get(code, 0) + n
        if time.monotonic() - self._refusal_logged >= REFUSAL_LOG_S:
            self._log_refusals()

    def _log_refusals(self) -> None:
        if self._refused_since:
            counts = ", ".join("%s %d" % kv for kv in sorted(self._refused_since.items()))
            log.warning("refused %d messages since the last line: %s (totals: %s)",
                        sum(self._refused_since.values()), counts,
                        ", ".join("%s %d" % kv for kv in sorted(self.refused.items())))
            self._refused_since = {}
            self._refusal_logged = time.monotonic()

    async def _report_refusals(self):
        """Log the refusals counted since the last line, each interval."""
        while True:
            await asyncio.sleep(1.0)
            if self._refused_since and (
                    time.monotonic() - self._refusal_logged >= REFUSAL_LOG_S):
                self._log_refusals()

    async def _control(self, client):
        """Publish changed configs (retained) and, now and then, the time."""
        last_time = time.monotonic()
        while True:
            try:
                # A new day renews the time zone table of every config; a
                # consultation opening or closing at a site changes its kiosks'.
                mark = await self._db(control.config_mark, self._ingest.conn, time.time())
                if mark != self._mark:
                    configs = await self._db(control.kiosk_configs, self._ingest.conn,
                                             time.time())
                    changed = {d: p for d, p in configs.items() if self._published.get(d) != p}
                    # A revoked kiosk's retained config is cleared (empty payload).
                    gone = [d for d in self._published if d not in configs]
                    changed.update((d, b"") for d in gone)
                    await _publish_all(client, [(w.topic(d, "config"), p, True)
                                                for d, p in changed.items()])
                    self._published.update(changed)
                    for d in gone:
                        del self._published[d]
                    self._mark = mark
                    if changed:
                        log.info("published config to %d kiosks", len(changed))
                await self._offer_updates(client)
                if time.monotonic() - last_time >= self.time_every_s:
                    last_time = time.monotonic()
                    online = await self._db(registry.online_kiosks, self._ingest.conn)
                    t = w.encode_time(int(time.time() * 1000))
                    await _publish_all(client, [(w.topic(d, "time"), t, False) for d in online])
                    await self._db(self._ingest.prune)
            except aiomqtt.MqttError:
                return  # the session ends; the next one starts over
            except Exception:
                log.exception("publishing configs or the time failed; retrying")
            await asyncio.sleep(self.watch_every_s)


    async def _offer_updates(self, client):
        """Publish each kiosk's update offer (retained) as the rollouts say;
        an empty payload withdraws one (a rollout stopped)."""
        if not self._offers_seeded:
            ever = await self._db(ota_offers.ever_offered, self._ingest.conn)
            self._offered = {d: b"?" for d in ever}
            self._offers_seeded = True
        offers = await self._db(ota_offers.offers, self._ingest.conn)
        changed = {d: p for d, p in offers.items() if self._offered.get(d) != p}
        changed.update((d, b"") for d in self._offered if d not in offers)
        if changed:
            await _publish_all(client, [(w.topic(d, "ota"), p, True)
                                        for d, p in changed.items()])
            log.info("update offers: %d published, %d withdrawn",
                     sum(1 for p in changed.values() if p),
                     sum(1 for p in changed.values() if not p))
        self._offered = offers


async def _send_now(client, messages):
    """Publish (topic, payload, retain) at QoS 0: acks and the time. Kiosks
    hold clean sessions, so QoS 1 would add no guarantee on their side, only
    a PUBACK each way; a lost ack makes the kiosk resend, and the duplicate
    is acked again. Returns once paho has written them, so the acks of the
    last batch leave before the DISCONNECT that ends a session on SIGTERM."""
    await asyncio.gather(*[client.publish(t, p, qos=0, retain=r, timeout=ACK_TIMEOUT_S)
                           for t, p, r in messages])


async def _publish_all(client, messages):
    """Publish (topic, payload, retain) at QoS 1 and wait for the PUBACKs.
    On a dead connection the session ends and cancels this wait."""
    await asyncio.gather(*[client.publish(t, p, qos=1, retain=r) for t, p, r in messages])

