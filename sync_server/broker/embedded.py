"""The zero-install broker: amqtt on a local port, with the same accounts
and topic rules as the Mosquitto files `borne broker-config` writes.

amqtt speaks MQTT 3.1.1 only and does not resend unacknowledged QoS 1
messages after a reconnect; kiosks resend until the application ack, so
nothing is lost, but production deployments use Mosquitto."""
import logging
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

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

    def __init__(self, context):
        super().__init__(context)
        self._conn = connect(self.config.db_path)

    async def authenticate(self, *, session):
        user, client_id = session.username, session.client_id
        ok = False
        if user and user == client_id:
            if broker_rules.is_server_user(user):
                secret = get_setting(self._conn, "server_secret")
                ok = bool(secret) and session.password == secret
            else:
                stored = registry.kiosk_secret_hash(self._conn, user)
                ok = bool(stored) and passwords.verify_secret(session.password, stored)
        if not ok:
            log.warning("refused connection: user %r, client id %r", user, client_id)
        return ok

    async def close(self):
        self._conn.close()


class KioskTopicPlugin(BaseTopicPlugin):
    """`broker_rules.allowed` for publish, subscribe and delivery."""

    async def topic_filtering(self, *, session=None, topic=None, action=None):
        user = session.username if session else None
        return broker_rules.allowed(user, topic or "", action == Action.PUBLISH)


def broker_config(db_path, host, port, tls=None):
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


async def start(db_path, host="127.0.0.1", port=1883, tls=None):
    """Start the broker; return it (call `await broker.shutdown()`)."""
    broker = Broker(broker_config(db_path, host, port, tls))
    await broker.start()
    return broker
