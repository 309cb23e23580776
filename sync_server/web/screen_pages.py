"""The agents' daily screen: `/screen/{site}?key=SECRET` (or as a logged-in
manager), its live updates over Server-Sent Events, and its JSON.

Live updates do not rely on a hook from ingest (ingest may run in another
thread or process): one watcher polls `rollup_changes` for the sites that
have an open screen every half second and wakes their streams."""
import asyncio
import contextlib
import datetime
import logging
import os
import re
import time
import zoneinfo
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sync_server.storage import rollup
from sync_server.storage.access_queries import Store
from sync_server.web import render, screen_data
from sync_server.web.audience import still_allowed
from sync_server.web.i18n import TEXT, lang_of
from sync_server.web.keys import DB

log = logging.getLogger(__name__)

POLL_S = 0.5
REFRESH_S = 30.0       # re-render anyway: kiosk health, the day changing
MIN_GAP_S = 0.5        # between two renders of one stream
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_NAME = re.compile(r"^(screen|manager|feedback|team)_[a-z_]+\.(css|js)$")
CONTENT_TYPES = {"css": "text/css", "js": "text/javascript"}
SCREEN_QUERY = ("key", "lang", "shrink")  # what the screen's links carry over


class Live:
    """Open screens per site, the figures' version each one last showed, and
    the watcher that wakes those whose site has changed since."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[asyncio.Event, Any]] = {}  # site -> {event: version shown}
        # (site_id, lang, shrink) -> (version, monotonic time, html)
        self.rendered: dict[tuple[str, str, bool], tuple[Any, float, str]] = {}
        self.closing = False

    def open(self, site_id: str) -> asyncio.Event:
        ev = asyncio.Event()
        self.streams.setdefault(site_id, {})[ev] = None
        return ev

    def close(self, site_id: str, ev: asyncio.Event) -> None:
        evs = self.streams.get(site_id)
        if evs is not None:
            evs.pop(ev, None)
            if not evs:
                del self.streams[site_id]
                for key in [k for k in self.rendered if k[0] == site_id]:
                    del self.rendered[key]

    def panel(self, request: web.Request, site_id: str, ev: asyncio.Event, lang: str,
              shrink: bool) -> str | None:
        """The site's live panel for one stream. The version is read before
        the figures, so a change during the render wakes the stream again.
        Screens of one site share a render made less than MIN_GAP_S ago at
        the same version (a busy site may have many screens)."""
        db = request.app[DB]
        version = rollup.versions(db, [site_id])[site_id]
        self.streams[site_id][ev] = version
        key = (site_id, lang, shrink)
        hit = self.rendered.get(key)
        now = time.monotonic()
        if hit and hit[0] == version and now - hit[1] < MIN_GAP_S:
            return hit[2]
        data = screen_data.screen(db, site_id, shrink=shrink)
        if data is None:
            return None
        html = render.text(request, "screen_panel.html", lang, **panel_context(data))
        self.rendered[key] = (version, now, html)
        return html

    def check(self, db: Store) -> None:
        """Wake the streams that show an older version than the site's."""
        if not self.streams:
            return
        for sid, version in rollup.versions(db, list(self.streams)).items():
            for ev, shown in self.streams.get(sid, {}).items():
                if shown is not None and shown != version:
                    ev.set()

    def shutdown(self) -> None:
        self.closing = True
        for evs in self.streams.values():
            for ev in evs:
                ev.set()


LIVE = web.AppKey("screen_live", Live)


async def watcher(app: web.Application) -> AsyncIterator[None]:
    live = app[LIVE]

    async def loop():
        while not live.closing:
            try:
                live.check(app[DB])
            except Exception:  # a locked or busy database must not end the watcher
                log.exception("screen watcher")
            await asyncio.sleep(POLL_S)

    task = asyncio.create_task(loop())
    yield
    live.shutdown()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def on_shutdown(app: web.Application) -> None:
    # aiohttp waits for open streams on shutdown: end them now.
    app[LIVE].shutdown()


def setup(app: web.Application) -> None:
    app[LIVE] = Live()
    app.cleanup_ctx.append(watcher)
    app.on_shutdown.append(on_shutdown)
    r = app.router
    r.add_get("/screen/{site_id}", screen_page)
    r.add_get("/screen/{site_id}/events", screen_events)
    r.add_get("/screen/{site_id}/data.json", screen_json)
    r.add_get(r"/static/{name:(?:screen|manager|feedback|team)_[a-z_]+\.(?:css|js)}", static_file)


def message(request: web.Request, status: int, title_key: str, text: str) -> web.Response:
    """A page that says only why there is nothing to show (screen and manager)."""
    lang = lang_of(request)
    return render.page(request, "screen_message.html", lang, status=status,
                       title=TEXT[lang][title_key], message=text)


def panel_context(data: dict) -> dict:
    """What `screen_panel.html` shows: the screen's data and the time of this render."""
    tz = zoneinfo.ZoneInfo(data["site"]["timezone"])
    return dict(data, updated=datetime.datetime.now(tz).strftime("%H:%M:%S"))


def _allowed(request):
    """The site's screen data, or an error response (who may see it is
    `audience`'s business)."""
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    if screen_data.site_row(db, site_id) is None:
        return None, message(request, 404, "notfound_title", TEXT[lang_of(request)]["notfound"])
    return site_id, None


def _shrink(request):
    """`shrink=1`: scores pulled toward the network mean (said on screen)."""
    return request.query.get("shrink") == "1"


def _query(request, **changes):
    q = {k: v for k, v in request.query.items() if k in SCREEN_QUERY}
    q.update(changes)
    return urlencode(q)


async def screen_page(request: web.Request) -> web.Response:
    site_id, error = _allowed(request)
    if error:
        return error
    lang = lang_of(request)
    data = screen_data.screen(request.app[DB], site_id, shrink=_shrink(request))
    if data is None:  # removed since _allowed looked
        return message(request, 404, "notfound_title", TEXT[lang]["notfound"])
    return render.page(
        request, "screen_page.html", lang, switch_keep=SCREEN_QUERY,
        events_url="/screen/%s/events?%s" % (site_id, _query(request, lang=lang)),
        **panel_context(data))


async def screen_json(request: web.Request) -> web.Response:
    site_id, error = _allowed(request)
    if error:
        return web.json_response({"error": "forbidden or unknown site"}, status=error.status)
    return web.json_response(screen_data.screen(request.app[DB], site_id,
                                                shrink=_shrink(request)))


def sse(event: str, text: str) -> bytes:
    lines = "".join("data: %s\n" % line for line in text.split("\n"))
    return ("event: %s\n%s\n" % (event, lines)).encode()


async def screen_events(request: web.Request) -> web.StreamResponse:
    site_id, error = _allowed(request)
    if error:
        return error
    lang = lang_of(request)
    shrink = _shrink(request)
    live = request.app[LIVE]
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    ev = live.open(site_id)
    try:
        await resp.write(b"retry: 2000\n\n")
        while not live.closing:
            if not still_allowed(request):
                break  # the link was revoked or the session ended
            html = live.panel(request, site_id, ev, lang, shrink)
            if html is None:
                break
            await resp.write(sse("panel", html))
            # At most one render per MIN_GAP_S per screen; a change during the
            # gap leaves the event set, so it still shows within POLL_S + MIN_GAP_S.
            await asyncio.sleep(MIN_GAP_S)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ev.wait(), REFRESH_S)
            ev.clear()
    except ConnectionResetError:
        pass  # the screen was closed
    finally:
        live.close(site_id, ev)
    return resp


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not STATIC_NAME.match(name):
        raise web.HTTPNotFound()
    path = os.path.join(STATIC_DIR, name)
    if not os.path.exists(path):
        raise web.HTTPNotFound()
    with open(path, encoding="utf-8") as f:
        body = f.read()
    return web.Response(text=body, content_type=CONTENT_TYPES[name.rsplit(".", 1)[1]],
                        charset="utf-8", headers={"Cache-Control": "max-age=300"})
