"""The JSON API, version 1: sites, kiosks and raw votes (described in
`openapi.py`).

Errors under /api/ are JSON: {"error": {"status": 404, "message": "..."}}."""
import base64
import datetime
import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from sync_server.storage import page_queries, registry
from sync_server.web.keys import DB

log = logging.getLogger("borne.api")

PAGE_MAX = 1000
PAGE_DEFAULT = 200


def setup(app: web.Application) -> None:
    app.middlewares.append(json_errors)
    r = app.router
    r.add_get("/api/v1/sites", sites)
    r.add_get("/api/v1/kiosks", kiosks)
    r.add_get("/api/v1/sites/{site_id}/votes", votes)


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
        return error(e.status, e.reason if e.text is None or e.text.startswith(
            "%d:" % e.status) else e.text)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "internal error; the server log has the details")


def _db(request):
    return request.app[DB]


def _time_param(request, name):
    """Milliseconds since 1970 UTC, or ISO 8601 (a date alone is midnight UTC)."""
    text = request.query.get(name)
    if text is None or text == "":
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(text="%s must be milliseconds since 1970 or an ISO 8601"
                                      " date, not %r" % (name, text)) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp() * 1000)


async def sites(request: web.Request) -> web.Response:
    return web.json_response({"sites": registry.list_sites(_db(request).conn)})


async def kiosks(request: web.Request) -> web.Response:
    rows = registry.list_kiosks(_db(request).conn, request.query.get("site"))
    for r in rows:
        r["online"] = r["state"] == "online" and not r["revoked_ms"]
        r["trusted"] = not r["revoked_ms"]
    return web.json_response({"kiosks": rows})


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
    try:
        limit = int(request.query.get("limit", PAGE_DEFAULT))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be an integer") from None
    if not 1 <= limit <= PAGE_MAX:
        raise web.HTTPBadRequest(text="limit must be between 1 and %d" % PAGE_MAX)
    after = _uncursor(request.query["after"]) if request.query.get("after") else None
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
