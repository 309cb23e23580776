"""`borne serve`: the web application and MQTT ingest in one process."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import socket

from aiohttp import web
from amqtt.errors import BrokerError

from sync_server.broker import tls as broker_tls
from sync_server.broker.url import parse_host_port
from sync_server.commands.common import Subparsers
from sync_server.errors import CliError
from sync_server.settings import FIELDS as SETTING_NAMES
from sync_server.settings import SettingsError
from sync_server.settings import load as load_settings
from sync_server.storage.connection import ServerRunning, connect, server_lock, set_setting
from sync_server.web.app import make_app
from sync_server.web.keys import LINK, SETTINGS


def add_commands(sub: Subparsers) -> None:
    # Every option defaults to None: unset, the settings file or the default
    # of sync_server.settings applies.
    p = sub.add_parser("serve", help="run the sync server (web, API, MQTT ingest)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML settings file (default: $BORNE_CONFIG; see docs/CONFIGURATION.md)")
    p.add_argument("--db", help="SQLite database (default: $BORNE_DB or borne.db)")
    p.add_argument("--http", metavar="HOST:PORT",
                   help="web address (default 127.0.0.1:8080; none with --ingest-only)")
    p.add_argument("--mqtt", metavar="URL",
                   help="external broker, mqtt://[user[:password]@]host:port (default: start"
                        " the embedded broker; without a password, the server account's)")
    p.add_argument("--broker-port", type=int,
                   help="embedded broker port (default 1883, 0 picks a free one)")
    p.add_argument("--tls", metavar="DIR", help="folder of `borne tls init`: the embedded "
                   "broker also serves MQTT over TLS to the kiosks")
    p.add_argument("--tls-listener", metavar="[HOST:]PORT",
                   help="address of that TLS listener (default 8883, every interface)")
    p.add_argument("--ingest-only", action="store_const", const=True,
                   help="only store votes (one of several workers on a shared subscription)")
    p.add_argument("--public-url", metavar="URL",
                   help="address users reach the server at, e.g. https://borne.mairie.example"
                        " (links are built on it; https makes cookies Secure)")
    p.add_argument("--trust-proxy", action="store_const", const=True,
                   help="behind a reverse proxy: the QR form's client address is the last"
                        " X-Forwarded-For hop")
    p.add_argument("--qr-per-address-hour", type=int, metavar="N",
                   help="QR answers per hour an address's budget refills at (default 300;"
                        " METHOD.md, QR filtering)")
    alerts = p.add_argument_group("alerts (docs/CONFIGURATION.md, docs/DEPLOY.md)")
    alerts.add_argument("--smtp-host", metavar="HOST", help="SMTP server for alert e-mails")
    alerts.add_argument("--smtp-port", type=int, metavar="N", help="its port (default 587)")
    alerts.add_argument("--smtp-tls", choices=("starttls", "tls", "none"),
                        help="starttls (default), tls (implicit) or none")
    alerts.add_argument("--smtp-user", metavar="USER", help="SMTP login")
    alerts.add_argument("--smtp-password-file", metavar="FILE",
                        help="file holding the SMTP password ($BORNE_SMTP_PASSWORD wins)")
    alerts.add_argument("--smtp-from", metavar="ADDRESS",
                        help="From address of alert e-mails (default borne@localhost)")
    alerts.add_argument("--webhook-secret-file", metavar="FILE",
                        help="file holding the webhooks' HMAC secret ($BORNE_WEBHOOK_SECRET"
                             " wins; default: one kept in the database)")
    alerts.add_argument("--alert-every-s", type=int, metavar="N",
                        help="seconds between two evaluations of the rules (default 60)")
    alerts.add_argument("--alert-retry-s", type=int, metavar="N",
                        help="first wait before resending a failed message (default 30,"
                             " doubled at each attempt)")
    p.set_defaults(func=run)


def _host_port(text):
    try:
        return parse_host_port(text, "127.0.0.1")
    except ValueError:
        raise CliError("--http must be HOST:PORT, e.g. 127.0.0.1:8080") from None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            args.config, **{name: getattr(args, name) for name in SETTING_NAMES})
    except SettingsError as e:
        raise CliError(str(e)) from None
    if settings.ingest_only and not settings.mqtt:
        raise CliError("--ingest-only needs --mqtt: workers share an external broker")
    http = settings.web_address
    host_port = _host_port(http) if http else None
    if not settings.broker_port:
        settings = dataclasses.replace(settings, broker_port=_free_port())
    tls = None
    if settings.tls:
        if settings.mqtt:
            raise CliError("--tls is for the embedded broker: with --mqtt, give the TLS "
                           "listener to Mosquitto (`borne broker-config --tls`)")
        tls = (settings.tls, *broker_tls.parse_listener(settings.tls_listener, "0.0.0.0"))
        broker_tls.broker_files(settings.tls)
    # One server per database: two would answer the same kiosks and knock
    # each other off the broker. Ingest workers share the database by design.
    lock = None if settings.ingest_only else _lock(settings.db)
    try:
        if settings.public_url and not settings.ingest_only:
            # Commands that print links (`borne screen link add`) build them on it.
            conn = connect(settings.db)
            set_setting(conn, PUBLIC_URL, settings.public_url)
            conn.close()
        try:
            app = make_app(settings.db, **settings.app_options(), tls=tls)
        except ValueError as e:
            raise CliError(str(e)) from None
        asyncio.run(_serve(app, host_port))
    finally:
        if lock:
            lock.close()
    return 0


# The settings-table key of the public address the server last started with.
PUBLIC_URL = "public_url"


def _lock(db):
    try:
        return server_lock(db)
    except ServerRunning as e:
        raise CliError("%s is already served by process %s (lock %s); stop it first, or start "
                       "an ingest worker with --ingest-only" % (db, e.holder or "?", e.lock_path)
                       ) from None
    except OSError as e:
        raise CliError("cannot lock %s: %s" % (db, e)) from None


async def _serve(app, host_port):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # amqtt and its state machine log every connection at INFO, and tracebacks
    # for errors we report in one line; our broker plugins log what matters.
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    runner = web.AppRunner(app, handle_signals=False)
    try:
        await runner.setup()  # starts the broker and the MQTT link
    except (OSError, BrokerError) as e:
        await runner.cleanup()
        raise CliError("cannot start the embedded broker: %s" % e) from None
    try:
        where = []
        if host_port:
            site = web.TCPSite(runner, host_port[0], host_port[1])
            try:
                await site.start()
            except OSError as e:
                raise CliError("cannot listen on %s:%d: %s" % (*host_port, e)) from None
            port = runner.addresses[0][1]  # the port picked for :0
            where.append("http://%s:%d" % (host_port[0], port))
        link = app[LINK]
        ready = asyncio.ensure_future(link.ready.wait())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if not stop.is_set():
            where.append(app[SETTINGS]["mqtt_url"])
            print("borne: serving %s" % " ".join(where), flush=True)
        await stopped
    finally:
        await runner.cleanup()  # the batch in hand commits and is acked first
    s = app[LINK].stats
    print("borne: stopped after %d votes stored, %d duplicates, %d refused messages"
          % (s["new_votes"], s["duplicates"], s["rejected"]), flush=True)
