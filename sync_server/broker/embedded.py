"""The zero-install broker: amqtt on a local port, with the same accounts
and topic rules as the Mosquitto files `borne broker-config` writes.

amqtt speaks MQTT 3.1.1 only and does not resend unacknowledged QoS 1
messages after a reconnect; kiosks resend until the application ack, so
nothing is lost, but production deployments use Mosquitto."""
import logging
import os
from dataclasses import dataclass
from typing import Any, cast

from amqtt.broker import Broker, BrokerContext
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from protocol import server_wire as w
from sync_server.broker import rules as broker_rules
from sync_server.broker import tls as broker_tls
from sync_server.storage import credentials as passwords
from sync_server.storage import registry
from sync_server.storage.connection import connect, get_setting

log = logging.getLogger("borne.broker")
PINS = "borne:pins"  # never a device id (no colon there), so no client can be it


class RegistryPlugin:
    """An amqtt plugin reading the registry on its own SQLite connection
    (the `db_path` of its configuration); listed before amqtt's base class."""

    @dataclass
    class Config:
        db_path: str = "borne.db"

    config: Config

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)  # type: ignore[call-arg]  # amqtt's plugin base class
        self._conn = connect(self.config.db_path)

    async def close(self) -> None:
        self._conn.close()


class KioskAuthPlugin(RegistryPlugin, BaseAuthPlugin):
    """A client logs in with user name = client id and either a trusted
    kiosk's secret (checked against the registry at each connection, so a
    revocation applies at once) or the server's secret. A last will on a
    topic the client may not publish to is dropped, as Mosquitto does."""

    async def authenticate(self, *, session: Session) -> bool:
        user, client_id = session.username, session.client_id
        ok = False
        if user and user == client_id:
            if broker_rules.is_server_user(user):
                secret = get_setting(self._conn, "server_secret")
                ok = bool(secret) and session.password == secret
            else:
                stored = registry.kiosk_secret_hash(self._conn, user)
                if stored:
                    ok = passwords.verify_secret(session.password, stored)
        if ok and session.will_flag and not broker_rules.allowed(
                user, session.will_topic or "", True):
            # As Mosquitto: the client connects, its will is never published.
            log.warning("dropped %r's last will on %r", user, session.will_topic)
            session.will_flag = False
        if not ok:
            log.warning("refused connection: user %r, client id %r", user, client_id)
        return ok



def topic_matches(topic: str, topic_filter: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest); `$` topics only
    match filters that name their first level."""
    t, f = topic.split("/"), topic_filter.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(t) == len(f)


class KioskTopicPlugin(RegistryPlugin, BaseTopicPlugin):
    """`broker_rules.allowed` for publish, subscribe and delivery; a revoked
    kiosk still connected can no longer publish or subscribe.

    Retained messages are kept here, not in amqtt's store: amqtt 0.12 hands
    every retained message matching anyone's subscription to each client that
    connects, unchecked. Here a retained message is given only to a client
    that subscribes to it and may read it, as Mosquitto does. Keeping amqtt's
    store empty also keeps its connect-time replay from awaiting while it walks
    the broker's subscriptions.

    amqtt walks its dictionary of subscription filters while awaiting each
    topic check of a delivery (`Broker._run_broadcast`); a filter added or
    dropped meanwhile, as each kiosk's connection with a clean session does,
    stopped that message's delivery halfway with `dictionary changed size
    during iteration`. So the filters kiosks and the server use are pinned, once,
    by a session of the broker's own (PINS) that never connects and is never
    given a message: their entries then stay for the broker's life."""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._pinned: set[str] = set()

    async def _pin(self, topic_filters: list[str]) -> None:
        for f in topic_filters:
            if f not in self._pinned:
                self._pinned.add(f)
                await self._broker.add_subscription(PINS, f, 1)

    async def _pin_kiosk(self, device_id: str) -> None:
        await self._pin([w.topic(device_id, n) for n in broker_rules.KIOSK_READ])

    async def on_broker_post_start(self) -> None:
        # Before any client: the server's filters and each trusted kiosk's.
        await self._pin([w.TOPIC_ROOT + "+/" + n for n in broker_rules.KIOSK_WRITE])
        for dev, _site, _h in registry.trusted_kiosks(self._conn):
            await self._pin_kiosk(dev)

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        # A kiosk added since the start: pinned before it usually subscribes.
        if not broker_rules.is_server_user(client_session.username):
            await self._pin_kiosk(client_id)

    @property
    def _broker(self) -> BrokerContext:
        return cast(BrokerContext, self.context)

    def _trusted(self, user: str | None) -> bool:
        return (broker_rules.is_server_user(user)
                or registry.kiosk_secret_hash(self._conn, user or "") is not None)

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        if session is not None and session.client_id == PINS:
            return action == Action.SUBSCRIBE  # it holds filters, never reads
        user = session.username if session else None
        if not broker_rules.allowed(user, topic or "", action == Action.PUBLISH):
            return False
        return action == Action.RECEIVE or self._trusted(user)

    def _keep(self, topic: str, data: bytes, qos: int | None) -> None:
        if data:
            self._retained[topic] = (bytes(data), qos or 0)
        else:  # an empty retained message clears the topic
            self._retained.pop(topic, None)

    async def on_broker_message_received(self, *, client_id: str, message: Any) -> None:
        # Runs before amqtt's own topic check of this message (its task is
        # scheduled first), so the retain flag is taken off in time; nothing
        # here may await before that.
        packet = getattr(message, "publish_packet", None)
        if message is None or packet is None or not packet.retain_flag:
            return
        packet.retain_flag = False
        session = self._broker.get_session(client_id)
        user = session.username if session else None
        if broker_rules.allowed(user, message.topic, True) and self._trusted(user):
            self._keep(message.topic, message.data, message.qos)

    async def on_broker_retained_message(self, *, client_id: str | None,
                                         retained_message: Any) -> None:
        # What still reaches amqtt's store (a retained last will) moves here.
        topic = retained_message.topic
        self._keep(topic, retained_message.data, retained_message.qos)
        store = self._broker.retained_messages
        if store.get(topic) is retained_message:
            del store[topic]

    async def on_broker_client_subscribed(self, *, client_id: str, topic: str,
                                          qos: int) -> None:
        # The subscription was allowed; hand over what it may read. (Sent as
        # a fresh publication: it reaches any reader of that exact topic.)
        session = self._broker.get_session(client_id)
        user = session.username if session else None
        for t, (data, q) in list(self._retained.items()):
            if topic_matches(t, topic) and broker_rules.allowed(user, t, False):
                await self._broker.broadcast_message(t, data, min(q, qos))



def broker_config(db_path: str | os.PathLike[str], host: str, port: int,
                  tls: tuple[str, str, int] | None = None) -> dict[str, Any]:
    """tls: (folder of `borne tls init`, host, port) adds a TLS listener
    with the broker certificate there."""
    listeners = {"default": {"type": "tcp", "bind": "%s:%d" % (host, port)}}
    if tls:
        listeners["kiosks-tls"] = broker_tls.amqtt_listener(*tls)
    return {
        "listeners": listeners,
        "plugins": {
            "sync_server.broker.embedded.KioskAuthPlugin": {"db_path": str(db_path)},
            "sync_server.broker.embedded.KioskTopicPlugin": {"db_path": str(db_path)},
        },
    }


async def start(db_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 1883,
                tls: tuple[str, str, int] | None = None) -> Broker:
    """Start the broker; return it (call `await broker.shutdown()`)."""
    broker = Broker(broker_config(db_path, host, port, tls))
    await broker.start()
    return broker
