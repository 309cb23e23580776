# Opening the sync task's MQTT session (sync.py loads this module for each
# connection and forgets it after): the broker from provisioning, TLS with
# the pinned CA, the broker's address resolved again, CONNECT with the will,
# the subscriptions and the online status.
import gc
import sys

import batch
import mqtt
import settings
import sync
from version import FW

import kiosk_wire as w


async def open_session(sy):
    """Connect; return the connected mqtt.Client (sy.client)."""
    k = sy.k
    prov = k.settings.prov
    tls, host, port = settings.parse_broker(prov["broker"])
    ctx = None
    if tls:
        import tlsca
        ctx = tlsca.context(tlsca.ca(k.settings.base))
    elif not sy.plain_warned:
        sy.plain_warned = True
        sy.log("plain TCP (lab option): nothing is encrypted")
    # Resolved again at every connection: a broker that moved is found.
    ip = await sy.board.resolve(host)
    dev = k.device
    c = mqtt.Client(dev, prov.get("user") or dev, prov.get("secret"),
                    keepalive=sy.board.keepalive_s)
    c.set_will(sy.topic("status"), w.encode_json({"state": "offline"}), 1, True)
    c.on_message = sy.on_message
    c.on_oversized = sy.on_oversized
    sy.client = c
    if sy.batch is None or sy.batch.dev != dev.encode():
        sy.batch = None
        gc.collect()
        sy.batch = batch.BatchBuffer(dev, sy._anchor_of)
    try:
        await c.connect(ip, port, tls=ctx, host=host)
    except (OSError, ValueError) as e:  # mbedTLS refusals are ValueError
        if ctx:
            tlsca.explain(e, host)
        raise
    sy.connected = True
    sy.backoff = sync.BACKOFF_MIN
    sy.anchor_sent = False
    sy.inflight = None
    sy.board.indicator("offline", False)
    import mqtt_open
    try:
        await mqtt_open.subscribe(c, [sy.topic(n) for n in ("ack", "config", "time",
                                                             "ota", "chunk")])
    finally:
        sys.modules.pop("mqtt_open", None)
    await c.publish(sy.topic("status"), w.encode_json(
        {"state": "online", "boot": k.journal.boot, "fw": FW}), 1, True)
    sy.board.state_changed(k)
    return c
