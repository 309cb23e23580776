"""The zero-install broker: amqtt on a local port, with the same accounts
and topic rules as the Mosquitto files `borne broker-config` writes.

amqtt speaks MQTT 3.1.1 only and does not resend unacknowledged QoS 1
messages after a reconnect; kiosks resend until the application ack, so
nothing is lost, but production deployments use Mosquitto."""
import logging
import os
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from sync_server.broker import rules as broker_rules
from sync_server.broker import tls as broker_tls
from sync_server.storage import credentials as passwords
from sync_server.storage import registry
from sync_server.storage.connection import connect, get_setting

log = logging.getLogger("borne.broker")


class KioskAuthPlugin(BaseAuthPlugin):
    """A client logs in with user name = client id and either a trusted
    kiosk's secret (checked against the registry at each connection, so a
    revocation applies at once) or the server's secret."""

    @dataclass
    class Config:
        db_path: str = "borne.db"

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._conn = connect(self.config.db_path)

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
        if not ok:
            log.warning("refused connection: user %r, client id %r", user, client_id)
        return ok

    async def close(self) -> None:
        self._conn.close()


class KioskTopicPlugin(BaseTopicPlugin):
    """`broker_rules.allowed` for publish, subscribe and delivery."""

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        user = session.username if session else None
        return broker_rules.allowed(user, topic or "", action == Action.PUBLISH)


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
            "sync_server.broker.embedded.KioskTopicPlugin": {},
        },
    }


async def start(db_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 1883,
                tls: tuple[str, str, int] | None = None) -> Broker:
    """Start the broker; return it (call `await broker.shutdown()`)."""
    broker = Broker(broker_config(db_path, host, port, tls))
    await broker.start()
    return broker
