"""Mosquitto's dynamic-security plugin: the accounts and topic rules of
`broker_rules` as its JSON file (written by `borne broker-config`), and the
changes of a running broker sent to `$CONTROL/dynamic-security/v1` by an
admin account, so a kiosk added or revoked takes effect at once, without a
reload.

Mosquitto owns the JSON file once it runs (it rewrites it at each change):
`borne broker-config` writes it before Mosquitto starts; afterwards the
registry's changes reach the broker through the control topic."""
import json
import queue
import sqlite3
from typing import Any

import paho.mqtt.client as mqtt

from sync_server.broker import rules as broker_rules
from sync_server.broker.url import BrokerUrl, parse_broker_url
from sync_server.errors import CliError
from sync_server.storage import credentials as passwords
from sync_server.storage import registry
from sync_server.storage.connection import Db, get_setting, set_setting, setting_once

ADMIN_USER = "borne-admin"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
KIOSK_ROLE, SERVER_ROLE, ADMIN_ROLE = "borne-kiosk", "borne-server", "borne-admin"  # kiosk: prefix
CONTROL_SETTING = "mosquitto_control"  # where `borne broker-config` said Mosquitto listens
TIMEOUT_S = 5.0


def admin_secret(conn: Db) -> str:
    """The admin account's password, made on first use, kept in the database."""
    return setting_once(conn, "mosquitto_admin_secret", passwords.new_secret)


def _acl(kind: str, topic: str) -> dict[str, Any]:
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def kiosk_role(device_id: str) -> dict[str, Any]:
    """A kiosk's own role: its topics, written out (Mosquitto 2.0's plugin
    has no %c or %u in its rules), in the protocol's direction."""
    own = "borne/v1/%s/" % device_id
    acls = ([_acl("publishClientSend", own + t) for t in broker_rules.KIOSK_WRITE]
            + [_acl(kind, own + t) for t in broker_rules.KIOSK_READ
               for kind in ("subscribeLiteral", "publishClientReceive")])
    return {"rolename": KIOSK_ROLE + "-" + device_id, "acls": acls}


def shared_roles() -> list[dict[str, Any]]:
    """The server's role (the whole tree) and the admin's (the control topics)."""
    server = [_acl(kind, topic) for topic in ("borne/v1/#", "$share/+/borne/v1/#")
              for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")]
    admin = [_acl(kind, CONTROL_TOPIC + "/#")
             for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")]
    return [{"rolename": SERVER_ROLE, "acls": server}, {"rolename": ADMIN_ROLE, "acls": admin}]


def _client(user: str, secret_hash: str, role: str) -> dict[str, Any]:
    # The `$7$` hash of a Mosquitto password file holds what the plugin
    # stores: PBKDF2-SHA512 digest, salt and iterations.
    _, _, iterations, salt, digest = secret_hash.split("$")
    return {"username": user, "password": digest, "salt": salt,
            "iterations": int(iterations), "roles": [{"rolename": role}]}


def config(conn: Db, workers: int) -> dict[str, Any]:
    """The plugin's JSON file: every trusted kiosk, the server accounts and
    the admin; everything not granted is refused."""
    server = passwords.hash_secret(registry.server_secret(conn))
    clients = [_client(ADMIN_USER, passwords.hash_secret(admin_secret(conn)), ADMIN_ROLE)]
    clients += [_client(u, server, SERVER_ROLE) for u in broker_rules.server_users(workers)]
    roles = shared_roles()
    for dev, _site, secret_hash in registry.trusted_kiosks(conn):
        role = kiosk_role(dev)
        roles.append(role)
        clients.append(_client(dev, secret_hash, role["rolename"]))
    return {"defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                 "subscribe": False, "unsubscribe": True},
            "clients": clients, "groups": [], "roles": roles}


def set_control(conn: sqlite3.Connection, url: str) -> None:
    """Remember where the running Mosquitto takes control commands."""
    set_setting(conn, CONTROL_SETTING, url)


def control_url(conn: Db) -> BrokerUrl | None:
    """The Mosquitto `borne broker-config` configured, or None (embedded broker)."""
    url = get_setting(conn, CONTROL_SETTING)
    return parse_broker_url(url) if url else None


def send(conn: Db, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send commands to the running Mosquitto as the admin; return its
    responses. CliError when it cannot be reached or refuses the admin."""
    url = control_url(conn)
    if url is None:
        raise CliError("no Mosquitto configured: run `borne broker-config` first")
    answers: queue.Queue[Any] = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=ADMIN_USER)
    c.username_pw_set(ADMIN_USER, admin_secret(conn))
    c.on_connect = lambda cl, _u, _f, rc, _p=None: (
        cl.subscribe(RESPONSE_TOPIC, 1) if rc == 0 else answers.put(("refused", str(rc))))
    c.on_subscribe = lambda cl, *_a: cl.publish(CONTROL_TOPIC, json.dumps(
        {"commands": commands}), qos=1)
    c.on_message = lambda _c, _u, m: answers.put(("ok", m.payload))
    try:
        c.connect(url.host, url.port, keepalive=10)
    except OSError as e:
        raise CliError("Mosquitto at %s:%d not reached (%s)" % (url.host, url.port, e)) from None
    c.loop_start()
    try:
        kind, payload = answers.get(timeout=TIMEOUT_S)
    except queue.Empty:
        raise CliError("Mosquitto at %s:%d did not answer its control topic within %gs"
                       % (url.host, url.port, TIMEOUT_S)) from None
    finally:
        c.disconnect()
        c.loop_stop()
    if kind == "refused":
        raise CliError("Mosquitto refused the account %s (%s): was it started with the"
                       " files of `borne broker-config`?" % (ADMIN_USER, payload))
    responses: list[dict[str, Any]] = json.loads(payload)["responses"]
    return responses


def _checked(conn: Db, commands: list[dict[str, Any]], tolerated: str = "") -> None:
    for r in send(conn, commands):
        error = r.get("error")
        if error and not (tolerated and tolerated in error):
            raise CliError("Mosquitto refused %s: %s" % (r.get("command"), error))


def _removal(device_id: str) -> list[dict[str, Any]]:
    # Deleting the client disconnects it at once.
    return [{"command": "deleteClient", "username": device_id},
            {"command": "deleteRole", "rolename": kiosk_role(device_id)["rolename"]}]


def kiosk_added(conn: Db, device_id: str, secret: str) -> bool:
    """Give a running Mosquitto the new kiosk's account (or its new secret);
    False when no Mosquitto is configured. Raise CliError if it is unreachable."""
    if control_url(conn) is None:
        return False
    role = kiosk_role(device_id)
    _checked(conn, _removal(device_id) + [
        {"command": "createRole", "rolename": role["rolename"], "acls": role["acls"]},
        {"command": "createClient", "username": device_id, "password": secret,
         "roles": [{"rolename": role["rolename"]}]}], tolerated="not found")
    return True


def kiosk_revoked(conn: Db, device_id: str) -> bool:
    """Delete a revoked kiosk's account from a running Mosquitto, which
    disconnects it at once; False when no Mosquitto is configured."""
    if control_url(conn) is None:
        return False
    _checked(conn, _removal(device_id), tolerated="not found")
    return True


def tell_running(conn: Db, device_id: str, secret: str | None) -> str:
    """After the registry added a kiosk (secret given) or revoked it (None):
    apply it to the running Mosquitto; return a line for the technician."""
    try:
        done = (kiosk_added(conn, device_id, secret) if secret is not None
                else kiosk_revoked(conn, device_id))
    except CliError as e:
        return ("warning: %s; Mosquitto learns of kiosk %s after `borne broker-config`"
                " and a restart" % (e, device_id))
    if not done:
        return "(no Mosquitto configured: the embedded broker of `borne serve` applies it)"
    return "Mosquitto %s kiosk %s" % ("accepts" if secret is not None
                                      else "has disconnected and now refuses", device_id)
