"""The JSON API, version 1: sites, kiosks and raw votes, and the screen
links an admin token may add and revoke (described in `openapi.py`; who may
call what is `audience`'s table).

Errors under /api/ are JSON: {"error": {"status": 404, "message": "..."}}."""
import base64
import datetime
import json
import logging
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from sync_server.storage import firmware_updates, page_queries, registry
from sync_server.web import access
from sync_server.web.keys import DB
from sync_server.web.scope import visible_sites

log = logging.getLogger("borne.api")

PAGE_MAX = 1000
PAGE_DEFAULT = 200


def setup(app: web.Application) -> None:
    app.middlewares.append(json_errors)
    r = app.router
    r.add_get("/api/v1/sites", sites)
    r.add_get("/api/v1/kiosks", kiosks)
    r.add_get("/api/v1/firmware", firmware)
    r.add_get("/api/v1/sites/{site_id}/votes", votes)
    r.add_post("/api/v1/sites/{site_id}/screen-links", add_screen_link)
    r.add_delete("/api/v1/screen-links/{link_id}", revoke_screen_link)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        resp = error(e.status, e.reason if e.text is None or e.text.startswith(
            "%d:" % e.status) else e.text)
        if "Allow" in e.headers:  # a 405 says which methods the route has
            resp.headers["Allow"] = e.headers["Allow"]
        return resp
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error; the server log has the details")


def _db(request):
    return request.app[DB]


_MS = re.compile(r"-?[0-9]{1,15}")  # ASCII digits only: int() would take "²" and "٣"


def query_param(request: web.Request, name: str) -> str | None:
    """A query parameter given once, else None; an empty or repeated one is a 400."""
    values = request.query.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise web.HTTPBadRequest(text="%s is given %d times" % (name, len(values)))
    if values[0] == "":
        raise web.HTTPBadRequest(text="%s is empty (leave it out instead)" % name)
    return values[0]


def _time_param(request, name):
    """Milliseconds since 1970 UTC, or ISO 8601 (a date alone is midnight UTC)."""
    text = query_param(request, name)
    if text is None:
        return None
    if _MS.fullmatch(text):
        return int(text)
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.timezone.utc)
        return int(dt.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise web.HTTPBadRequest(text="%s must be milliseconds since 1970 or an ISO 8601"
                                      " date, not %r" % (name, text)) from None


async def sites(request: web.Request) -> web.Response:
    return web.json_response({"sites": registry.list_sites(_db(request).conn,
                                                           visible_sites(request))})


async def kiosks(request: web.Request) -> web.Response:
    rows = registry.list_kiosks(_db(request).conn, query_param(request, "site"),
                                visible_sites(request))
    for r in rows:
        r["online"] = r["state"] == "online" and not r["revoked_ms"]
        r["trusted"] = not r["revoked_ms"]
    return web.json_response({"kiosks": rows})


async def firmware(request: web.Request) -> web.Response:
    """Rollouts of firmware updates (network-wide: for the operator and API
    tokens only), and each visible kiosk's version and update state."""
    conn = _db(request).conn
    sites = visible_sites(request)
    return web.json_response({
        "rollouts": firmware_updates.rollouts(conn) if sites is None else [],
        "kiosks": firmware_updates.kiosk_states(conn, query_param(request, "site"), sites)})


def _cursor(utc_ms, device_id, seq):
    raw = json.dumps([utc_ms, device_id, seq]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(text):
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        utc_ms, device_id, seq = json.loads(raw)
        if not (isinstance(utc_ms, int) and isinstance(device_id, str) and isinstance(seq, int)):
            raise ValueError
        return utc_ms, device_id, seq
    except (ValueError, TypeError):
        raise web.HTTPBadRequest(text="bad page cursor (use the `next` link)") from None


async def votes(request: web.Request) -> web.Response:
    db = _db(request)
    site_id = request.match_info["site_id"]
    try:
        registry.get_site(db, site_id)
    except registry.UnknownSite:
        raise web.HTTPNotFound(text="unknown site %r" % site_id) from None
    start, end = _time_param(request, "from"), _time_param(request, "to")
    text = query_param(request, "limit")
    if text is not None and not _MS.fullmatch(text):
        raise web.HTTPBadRequest(text="limit must be an integer, not %r" % text)
    limit = PAGE_DEFAULT if text is None else int(text)
    if not 1 <= limit <= PAGE_MAX:
        raise web.HTTPBadRequest(text="limit must be between 1 and %d" % PAGE_MAX)
    cursor = query_param(request, "after")
    after = _uncursor(cursor) if cursor is not None else None
    rows = page_queries.dated_votes(db, site_id, start, end, after, limit + 1)
    items = rows[:limit]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = str(request.rel_url.update_query(
            {"after": _cursor(last["utc_ms"], last["device_id"], last["seq"])}))
    return web.json_response({"site_id": site_id, "from": start, "to": end, "votes": items,
                              "next": nxt,
                              "pending_undated": page_queries.undated_votes(db, site_id)})


async def add_screen_link(request: web.Request) -> web.Response:
    """A new screen link for a site: its key is in this answer only."""
    site_id = request.match_info["site_id"]
    label = query_param(request, "label") or ""
    if len(label) > 100:
        raise web.HTTPBadRequest(text="label is at most 100 characters")
    try:
        link_id, key = access.add_link(_db(request), site_id, label)
    except ValueError:
        raise web.HTTPNotFound(text="unknown site %r" % site_id) from None
    return web.json_response({"id": link_id, "site_id": site_id, "key": key,
                              "path": "/screen/%s?key=%s" % (site_id, key)}, status=201)


async def revoke_screen_link(request: web.Request) -> web.Response:
    text = request.match_info["link_id"]
    if not _MS.fullmatch(text):
        raise web.HTTPBadRequest(text="a link id is an integer, not %r" % text)
    try:
        access.revoke_link(_db(request), int(text))
    except ValueError as e:
        raise web.HTTPNotFound(text=str(e)) from None
    return web.json_response({"id": int(text), "revoked": True})
