"""The aiohttp application. Each feature module exposes `setup(app)` that adds
its routes and its cleanup contexts; `make_app` assembles them, in the order
of FEATURES.

Sharing SQLite: `app[DB]` is a sqlite_utils.Database over one connection,
used only from the event loop by request handlers (short queries, WAL, so
readers never wait for ingest). MQTT ingest never touches it: it runs in
its own thread on its own connection (see `mqtt_link`). SQLite serialises
the writers across connections and processes (busy_timeout 30 s).

Settings (`make_app(db_path, **settings)`, kept in `app[SETTINGS]`):
- mqtt: None (no MQTT: pages and API only, as in most tests), "embedded"
  (start the amqtt broker on `broker_port`, default 1883) or a broker URL
  mqtt://user:pass@host:port (an external Mosquitto);
- ingest_only: take votes only (no status, telemetry, config, time, alerts);
- smtp_*, webhook_secret_file, alert_every_s, alert_retry_s: alerts
  (`sync_server.alerts`).
"""
import asyncio
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from sync_server.alerts import service as alert_service
from sync_server.broker import embedded
from sync_server.ingest import mqtt_link
from sync_server.storage.connection import open_db
from sync_server.web import (
    access_log,
    alert_pages,
    api,
    audience,
    barometer_pages,
    consultation_manager,
    consultation_phone,
    consultation_results,
    csrf,
    feedback,
    headers,
    manager_pages,
    openapi,
    render,
    scoring_api,
    scoring_warm,
    screen_pages,
    team_pages,
    voice_pages,
)
from sync_server.web.keys import DB, LINK, SETTINGS

log = logging.getLogger("borne.app")

__all__ = ["DB", "LINK", "SETTINGS", "make_app"]

# Each with `setup(app)`: security headers, page rendering and form protection
# first, then JSON errors and access control (middlewares in this order), then
# the features.
FEATURES = (headers, render, csrf, api, audience, openapi, feedback, consultation_phone,
            scoring_api, scoring_warm, screen_pages, manager_pages, consultation_manager,
            consultation_results, team_pages, voice_pages, alert_pages, barometer_pages)


async def healthz(request: web.Request) -> web.Response:
    out: dict[str, Any] = {"status": "ok"}
    link = request.app.get(LINK)
    if link is not None:
        # The broker's address (never its credentials): simulators find it here.
        # `connected` is the session now: down from the moment it drops (at
        # most 20 s after a broker falls silent), not once connected ever.
        out["mqtt"] = {"connected": link.connected,
                       "url": "mqtt://%s:%d" % (link.host, link.port), **link.stats,
                       "refused": dict(link.refused)}
    refused = request.app.get(feedback.REFUSED)
    if refused is not None:  # QR form posts refused, per reason
        out["qr"] = {"refused": dict(refused)}
    return web.json_response(out)


def _make_link(settings):
    url = settings["mqtt"]
    if url == "embedded":
        settings["broker_port"] = settings.get("broker_port") or 1883
        url = "mqtt://127.0.0.1:%d" % settings["broker_port"]
    link = mqtt_link.Link(settings["db_path"], url, ingest_only=bool(settings.get("ingest_only")),
                          shared=settings["mqtt"] != "embedded")
    settings["mqtt_url"] = "mqtt://%s:%d" % (link.host, link.port)
    return link


async def mqtt_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the broker link (and the embedded broker) with the app; on
    shutdown let the batch in hand commit and be acked, then disconnect."""
    settings = app[SETTINGS]
    link = app[LINK]
    broker = None
    if settings["mqtt"] == "embedded":
        broker = await embedded.start(settings["db_path"], "127.0.0.1",
                                      settings["broker_port"], settings.get("tls"))
    task = asyncio.ensure_future(link.run())
    try:
        yield
    finally:
        link.stopping.set()
        try:
            await asyncio.wait_for(task, 60)
        except Exception:
            log.exception("MQTT link did not stop cleanly")
        if broker is not None:
            await broker.shutdown()


def make_app(db_path: str | os.PathLike, **settings: Any) -> web.Application:
    # The access log carries neither the client's address nor secrets.
    app = web.Application(handler_args={"access_log_class": access_log.AccessLogger})
    app[SETTINGS] = dict(settings, db_path=str(db_path))
    app[DB] = open_db(db_path)
    app.router.add_get("/healthz", healthz)
    if settings.get("mqtt"):
        app[LINK] = _make_link(app[SETTINGS])
        app.cleanup_ctx.append(mqtt_ctx)
    if not settings.get("ingest_only"):
        # Alert rules, evaluated on a timer and after each ingest commit.
        link = app.get(LINK)
        alert_service.setup(app, str(db_path), app[SETTINGS], link.changed if link else None)
    for feature in FEATURES:
        feature.setup(app)
    return app
