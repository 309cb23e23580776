"""Helpers of the alert tests: a registry fed through the real ingest
(`Ingest.process`, as the MQTT link calls it), a real SMTP server (aiosmtpd)
and a real webhook receiver (aiohttp) in the test process."""
import asyncio
import email
import email.policy
import json
import threading
import time

from aiohttp import web
from aiosmtpd.controller import Controller

from protocol import server_wire as w
from sync_server.alerts import delivery
from sync_server.ingest.writer import Ingest
from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts


def now_ms():
    return int(time.time() * 1000)


class Fleet:
    """A site with kiosks, whose messages go through the real ingest."""

    def __init__(self, db, site="mairie-alertes", kiosks=1, hours="{}", tz="Europe/Paris"):
        self.db = str(db)
        self.site = site
        self.conn = connect(self.db)
        registry.add_site(self.conn, site, "Mairie des Alertes", timezone=tz, hours=hours)
        self.devices = [registry.add_kiosk(self.conn, site)[0] for _ in range(kiosks)]
        self.ingest = Ingest(self.db)
        self.seq = {d: 0 for d in self.devices}

    def votes(self, levels, at_ms=None, dev=None, flags=0, step_ms=1000, campaign=None):
        """Votes at these levels, pressed from at_ms on (default: now - their span);
        with a campaign, answers to that consultation."""
        dev = dev or self.devices[0]
        at_ms = at_ms if at_ms is not None else now_ms() - step_ms * len(levels)
        batch = []
        for i, level in enumerate(levels):
            self.seq[dev] += 1
            batch.append((self.seq[dev], at_ms + i * step_ms, level, 4, flags))
        out = self.ingest.process([(w.topic(dev, "votes"),
                                    w.encode_batch(dev, 1, batch, campaign=campaign), False)])
        assert out.new_votes == len(levels) and not out.rejected
        return out

    def status(self, state, dev=None):
        dev = dev or self.devices[0]
        self.ingest.process([(w.topic(dev, "status"), w.encode_json({"state": state}), False)])

    def telemetry(self, dev=None, **fields):
        dev = dev or self.devices[0]
        m = {"boot": 1, "uptime_s": 100, "journal": 0, "clock": "ntp"}
        m.update(fields)
        out = self.ingest.process([(w.topic(dev, "telemetry"), w.encode_json(m), False)])
        assert not out.rejected

    def close(self):
        self.ingest.close()
        self.conn.close()


class Smtp:
    """A real SMTP server (aiosmtpd) on a free port; `messages` holds what it received."""

    def __init__(self):
        self.messages = []
        self.got = threading.Event()
        self.port = realparts.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "from": envelope.mail_from, "msg": msg})
        self.got.set()
        return "250 Message accepted for delivery"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def wait(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class Receiver:
    """A real HTTP server that takes webhooks: refuses the first `fail_first`
    posts with 503, then checks the HMAC and keeps the verified bodies."""

    def __init__(self, secret, fail_first=0):
        self.secret = secret
        self.fail_first = fail_first
        self.posts = []      # (monotonic time, status answered)
        self.verified = []   # bodies whose signature matched
        self.bad = 0
        self.port = realparts.free_port()
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self._loop = None

    async def hook(self, request):
        body = await request.read()
        if len(self.posts) < self.fail_first:
            self.posts.append((time.monotonic(), 503))
            return web.Response(status=503)
        if not delivery.verify(self.secret, body, request.headers.get(delivery.SIGNATURE_HEADER,
                                                                       "")):
            self.bad += 1
            self.posts.append((time.monotonic(), 401))
            return web.Response(status=401)
        self.verified.append(json.loads(body))
        self.posts.append((time.monotonic(), 200))
        return web.Response(status=204)

    def __enter__(self):
        started = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/hook", self.hook)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1",
                                                      self.port).start())
            started.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert started.wait(10)
        return self

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def wait(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.verified) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.verified
