"""The embedded broker under a fleet's connection churn: kiosks connecting,
subscribing and leaving while the server publishes to them. amqtt's delivery
of a message once died halfway in this situation (`dictionary changed size
during iteration`, its remaining subscribers never got it); no delivery may
fail, and the broker still delivers afterwards."""
import asyncio
import gc
import logging

import aiomqtt
import pytest

from protocol import server_wire as w
from sync_server.broker import embedded
from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts

pytestmark = pytest.mark.timeout(180)


class Failures(logging.Handler):
    def __init__(self):
        super().__init__()
        self.seen = []

    def emit(self, record):
        if record.exc_info or "changed size" in record.getMessage():
            self.seen.append(record.getMessage())


async def churn(db, port, keys, secret, rounds):
    stop = asyncio.Event()

    async def server():
        async with aiomqtt.Client("127.0.0.1", port, username="borne-server", password=secret,
                                  identifier="borne-server") as c:
            await c.subscribe(w.TOPIC_ROOT + "+/status", qos=1)
            while not stop.is_set():
                for dev in keys:
                    await c.publish(w.topic(dev, "ack"), b"x", qos=0)
                await asyncio.sleep(0)

    async def kiosk(dev, sec):
        for _ in range(rounds):
            async with aiomqtt.Client("127.0.0.1", port, username=dev, password=sec,
                                      identifier=dev) as c:
                for name in ("ack", "config", "time"):
                    await c.subscribe(w.topic(dev, name), qos=1)
                await c.publish(w.topic(dev, "status"), b"{}", qos=1, retain=True)

    task = asyncio.ensure_future(server())
    await asyncio.sleep(0.3)
    await asyncio.gather(*[kiosk(d, s) for d, s in keys.items()])
    stop.set()
    await task


async def still_delivers(port, dev, sec, secret):
    async with aiomqtt.Client("127.0.0.1", port, username=dev, password=sec,
                              identifier=dev) as k:
        await k.subscribe(w.topic(dev, "ack"), qos=1)
        async with aiomqtt.Client("127.0.0.1", port, username="borne-ingest-1",
                                  password=secret, identifier="borne-ingest-1") as s:
            await s.publish(w.topic(dev, "ack"), b"after the churn", qos=1)
            async with asyncio.timeout(10):
                async for m in k.messages:
                    if m.payload == b"after the churn":
                        return True
    return False


def test_delivery_survives_connection_churn(tmp_path):
    db = str(tmp_path / "borne.db")
    conn = connect(db)
    registry.add_site(conn, "s1", "S")
    keys = dict(registry.add_kiosk(conn, "s1") for _ in range(40))
    secret = registry.server_secret(conn)
    conn.close()
    port = realparts.free_port()
    failures = Failures()
    logging.getLogger("amqtt").addHandler(failures)

    async def run():
        loop = asyncio.get_running_loop()
        # A delivery task that died is reported here when it is collected.
        loop.set_exception_handler(lambda _l, ctx: failures.seen.append(
            "%s %r" % (ctx.get("message"), ctx.get("exception"))))
        broker = await embedded.start(db, "127.0.0.1", port)
        try:
            await churn(db, port, keys, secret, rounds=15)
            gc.collect()
            dev = next(iter(keys))
            return await still_delivers(port, dev, keys[dev], secret)
        finally:
            await broker.shutdown()

    try:
        assert asyncio.run(run())
    finally:
        logging.getLogger("amqtt").removeHandler(failures)
    assert not [m for m in failures.seen if "changed size" in (m or "")
                or "Broadcast loop" in (m or "")], failures.seen[:3]
