# The sync task: one MQTT connection, oldest pending votes first, in batches
# that are resent until the server's application ack frees them. Opening a
# session is in sync_open.py, loaded for each connection.
import asyncio
import gc
import os
import sys

import batch
import mqtt
from version import FW

import kiosk_wire as w

BACKOFF_MIN = 1
BACKOFF_MAX = 300


def jitter(delay):
    # Up to 25% less, so a fleet back from an outage does not reconnect at once.
    r = os.urandom(1)[0] if hasattr(os, "urandom") else 128
    return delay - delay * r / 1024


def next_backoff(delay):
    return min(delay * 2, BACKOFF_MAX)


def set_aside(sync):
    # An update that does not fit in the heap must not cost the session and
    # its votes: dropped, until its offer comes again with the next connection.
    sync.ota = None
    for name in ("ota", "ota_wire", "bootsel", "ed25519"):
        sys.modules.pop(name, None)
    gc.collect()
    sync.log("update set aside: out of memory")


class Sync:
    def __init__(self, kiosk):
        self.k = kiosk
        self.board = kiosk.board
        self.connected = False
        self.client = None
        self.sent_hi = 0  # highest seq sent on this connection
        self.inflight = None  # (first seq, last seq, boot_ms sent)
        self.backoff = BACKOFF_MIN
        self.refused = 0  # malformed control messages
        self.anchor_sent = False
        self.plain_warned = False
        self.batches_sent = 0
        self.progress = 0  # bumped by each loop turn, watched by the supervisor
        self.batch = None  # BatchBuffer of the current connection
        self.ignored = 0  # messages on topics that are not this kiosk's own
        self.own = None  # (device, the start of its own topics)
        self.ota = None  # ota.Updater: an update offered, or a firmware on trial
        try:  # boot.json exists once an update came over the air (bootsel.py)
            os.stat(kiosk.settings.base + "/boot.json")
            import ota
            ota.start(self)
        except OSError:
            pass

    def log(self, msg):
        self.k.log(msg)

    def topic(self, name):
        return w.topic(self.k.device, name)

    async def run(self):
        while True:
            self.progress += 1
            if not (self.k.settings.provisioned() and self.board.net_up()):
                await asyncio.sleep_ms(200)
                continue
            try:
                await self.session()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any link failure means reconnect
                self.log("mqtt: %s %s" % (type(e).__name__, e))
            self._down()
            gc.collect()  # the session's garbage gone before the next one's code loads
            delay = jitter(self.backoff)
            self.backoff = next_backoff(self.backoff)
            await self._sleep_unless_net_back(delay)

    async def _sleep_unless_net_back(self, delay):
        ms = int(delay * 1000)
        while ms > 0:
            await asyncio.sleep_ms(min(ms, 100))
            ms -= 100
            self.progress += 1
            if self.board.net_changed():
                return

    def _down(self):
        if self.client:
            self.client.close()
            self.client = None
        if self.connected:
            self.connected = False
            self.board.indicator("offline", True)
            self.board.state_changed(self.k)
        self.inflight = None

    async def session(self):
        c = await self._open()
        reader = asyncio.create_task(c.loop())
        try:
            await self.pump(reader)
        finally:
            reader.cancel()

    async def _open(self):
        # Its own frame, which ends here: session()'s lasts the connection
        # and would keep sync_open's code alive through a local name.
        import sync_open
        try:
            return await sync_open.open_session(self)
        finally:
            sys.modules.pop("sync_open", None)  # its code goes at the next collection

    async def pump(self, reader):
        c = self.client
        tele_at = None
        while True:
            if reader.done():
                await reader  # raises the reader's error
                raise mqtt.MQTTError("link lost")
            if not self.board.net_up():
                raise mqtt.MQTTError("network down")
            self.progress += 1
            now = self.k.clock.boot_ms()
            cfg = self.k.settings.config
            if self.inflight and now - self.inflight[2] > cfg["sync_s"] * 1000:
                self.log("no ack for seq %d..%d: resend" % self.inflight[:2])
                self.inflight = None
            if self.inflight is None:
                await self.send_batch(cfg["batch"])
            if self.ota:
                try:
                    import ota
                    await ota.pump(self, c)
                except MemoryError:
                    set_aside(self)
            if tele_at is None or now - tele_at >= cfg["telemetry_s"] * 1000:
                tele_at = now
                await c.publish(self.topic("telemetry"), self.telemetry(), 0)
            await self._wake(500)

    async def _wake(self, ms):
        # A new vote or an ack sets the event; it is cleared only here, after
        # the loop has looked at the journal, so no wake-up is lost.
        ev = self.k.vote_event
        if not ev.is_set():
            try:
                await asyncio.wait_for_ms(ev.wait(), ms)
            except asyncio.TimeoutError:
                pass
        ev.clear()

    def _anchor_of(self, boot):
        # Only this boot's anchor is known; earlier boots' votes go without.
        if boot == self.k.journal.boot:
            return self.k.clock.anchor
        return None

    async def send_batch(self, limit):
        j = self.k.journal
        bb = self.batch
        bb.reset()
        n = j.scan(min(limit, batch.MAX_BATCH), bb)
        if not n:
            if self.k.clock.anchor and not self.anchor_sent:
                # No vote to carry it: the anchor alone, in an empty batch.
                bb.begin(j.boot)
                await self.client.publish(self.topic("votes"), bb.finish(), 1)
                self.anchor_sent = True
            return
        data = bb.finish()
        if bb.anchored:
            self.anchor_sent = True
        self.inflight = (bb.first, bb.last, self.k.clock.boot_ms())
        self.sent_hi = max(self.sent_hi, bb.last)
        self.batches_sent += 1
        await self.client.publish(self.topic("votes"), data, 1)
        gc.collect()
        self.board.sample_heap()

    def telemetry(self):
        k = self.k
        b = self.board
        mv, pct = b.battery()
        a = k.clock.anchor
        return w.encode_json({
            "boot": k.journal.boot, "uptime_s": k.clock.boot_ms() // 1000,
            "journal": k.journal.pending(), "suppressed": k.suppressed,
            "dropped": k.journal.dropped, "battery_mv": mv, "battery_pct": pct,
            "rssi": b.rssi(), "fw": FW, "clock": k.clock.state,
            "anchor": [k.journal.boot, a[0], a[1]] if a else None,
            "heap_free": b.heap_free(), "refused": self.refused,
        })

    async def on_message(self, topic, payload):
        # The whole topic must be one of its own: another kiosk's config or
        # ack, whatever a broker delivers, is never applied here.
        dev = self.k.device
        if self.own is None or self.own[0] != dev:
            self.own = (dev, w.topic(dev, ""))  # once per device id
        p = self.own[1]
        name = topic[len(p):] if topic.startswith(p) else None
        if name not in ("ack", "config", "time", "ota", "chunk"):
            self.ignored += 1
            self.log("ignored a message on topic %s" % topic)
            return
        try:
            if name == "ack":
                self.on_ack(payload)
            elif name == "config":
                self.k.settings.apply_config(payload)
                self.board.state_changed(self.k)
            elif name == "time":
                utc = w.decode_time(payload)
                if self.k.clock.state in ("unknown", "server", "rtc"):
                    self.k.clock.set_utc(utc, "server")
                    self.board.state_changed(self.k)
            else:  # ota, chunk: updates over the air, loaded only while one runs
                try:
                    import ota
                    ota.on_message(self, name, payload)
                except MemoryError:
                    set_aside(self)
        except ValueError as e:
            # Malformed control message: log, count, keep the previous state.
            self.refused += 1
            self.log("refused %s message: %s" % (name, e))
        except OSError as e:
            self.board.flash_error(e)
            self.log("%s message not applied: %r" % (name, e))

    def on_oversized(self):
        self.refused += 1
        self.log("refused a message above %d bytes or beyond the free heap" % mqtt.MAX_PACKET)

    def on_ack(self, payload):
        dev, seq = w.decode_ack(payload)
        if dev != self.k.device:
            raise w.FormatError("ack for device %s" % dev)
        j = self.k.journal
        if seq <= j.acked:
            return  # a repeated ack: nothing more to free
        if seq > self.sent_hi:
            raise w.FormatError("ack %d above the highest seq sent %d" % (seq, self.sent_hi))
        j.ack(seq)
        if self.inflight and seq >= self.inflight[0]:
            self.inflight = None
        self.k.vote_event.set()  # wake the pump: room for the next batch
        self.board.state_changed(self.k)
