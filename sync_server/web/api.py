"""The JSON API, version 1, and its OpenAPI description.

Errors under /api/ are JSON: {"error": {"status": 404, "message": "..."}}."""
import base64
import datetime
import json
import logging

from aiohttp import web

from sync_server.storage import registry
from sync_server.web.keys import DB

log = logging.getLogger("borne.api")

PAGE_MAX = 1000
PAGE_DEFAULT = 200


def setup(app):
    app.middlewares.append(json_errors)
    r = app.router
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_get("/api/v1/sites", sites)
    r.add_get("/api/v1/kiosks", kiosks)
    r.add_get("/api/v1/sites/{site_id}/votes", votes)


def error(status, message):
    return web.json_response({"error": {"status": status, "message": message}}, status=status)


@web.middleware
async def json_errors(request, handler):
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


async def sites(request):
    return web.json_response({"sites": registry.list_sites(_db(request).conn)})


async def kiosks(request):
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


async def votes(request):
    db = _db(request)
    site_id = request.match_info["site_id"]
    if not db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone():
        raise web.HTTPNotFound(text="unknown site %r" % site_id)
    start, end = _time_param(request, "from"), _time_param(request, "to")
    try:
        limit = int(request.query.get("limit", PAGE_DEFAULT))
    except ValueError:
        raise web.HTTPBadRequest(text="limit must be an integer") from None
    if not 1 <= limit <= PAGE_MAX:
        raise web.HTTPBadRequest(text="limit must be between 1 and %d" % PAGE_MAX)
    where = ["site_id = ?", "utc_ms IS NOT NULL"]
    args = [site_id]
    if start is not None:
        where.append("utc_ms >= ?")
        args.append(start)
    if end is not None:
        where.append("utc_ms < ?")
        args.append(end)
    if request.query.get("after"):
        where.append("(utc_ms, device_id, seq) > (?, ?, ?)")
        args += list(_uncursor(request.query["after"]))
    rows = db.execute(
        "SELECT device_id, seq, utc_ms, level, scale, flags, boot, received_ms FROM votes"
        " WHERE %s ORDER BY utc_ms, device_id, seq LIMIT ?" % " AND ".join(where),
        (*args, limit + 1)).fetchall()
    keys = ("device_id", "seq", "utc_ms", "level", "scale", "flags", "boot", "received_ms")
    items = [dict(zip(keys, r)) for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:
        last = items[-1]
        nxt = str(request.rel_url.update_query(
            {"after": _cursor(last["utc_ms"], last["device_id"], last["seq"])}))
    pending = db.execute("SELECT count(*) FROM votes WHERE site_id = ? AND utc_ms IS NULL",
                         (site_id,)).fetchone()[0]
    return web.json_response({"site_id": site_id, "from": start, "to": end, "votes": items,
                              "next": nxt, "pending_undated": pending})


def _err(desc):
    return {"description": desc, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Borne sync server API", "version": "1",
             "description": "Sites, kiosks and their health, and the votes kiosks sent."},
    "paths": {
        "/healthz": {"get": {"summary": "Liveness, with MQTT ingest counters",
                             "responses": {"200": {"description": "The server runs"}}}},
        "/api/v1/openapi.json": {"get": {"summary": "This description",
                                         "responses": {"200": {"description": "OpenAPI 3"}}}},
        "/api/v1/sites": {"get": {
            "summary": "Every site with its settings and number of trusted kiosks",
            "responses": {"200": {"description": "Sites", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"sites": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Site"}}}}}}}}}},
        "/api/v1/kiosks": {"get": {
            "summary": "Every kiosk with its health: last seen, online, battery, journal,"
                       " firmware, clock, refused messages",
            "parameters": [{"name": "site", "in": "query", "schema": {"type": "string"},
                            "description": "only the kiosks of this site"}],
            "responses": {"200": {"description": "Kiosks", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"kiosks": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Kiosk"}}}}}}}}}},
        "/api/v1/sites/{site_id}/votes": {"get": {
            "summary": "Dated votes of a site, oldest first, paged",
            "parameters": [
                {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "from", "in": "query", "schema": {"type": "string"},
                 "description": "inclusive: ms since 1970 UTC or ISO 8601"},
                {"name": "to", "in": "query", "schema": {"type": "string"},
                 "description": "exclusive: ms since 1970 UTC or ISO 8601"},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX,
                            "default": PAGE_DEFAULT}},
                {"name": "after", "in": "query", "schema": {"type": "string"},
                 "description": "page cursor: follow the `next` link"}],
            "responses": {
                "200": {"description": "A page of votes", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/VotePage"}}}},
                "400": _err("Bad parameter"), "404": _err("Unknown site")}}},
    },
    "components": {"schemas": {
        "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "status": {"type": "integer"}, "message": {"type": "string"}}}}},
        "Site": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "timezone": {"type": "string"}, "buttons": {"type": "integer"},
            "hours": {"type": "object"}, "lockout_s": {"type": "integer"},
            "sync_s": {"type": "integer"}, "telemetry_s": {"type": "integer"},
            "kiosks": {"type": "integer"}}},
        "Kiosk": {"type": "object", "properties": {
            "id": {"type": "string"}, "site_id": {"type": "string"},
            "trusted": {"type": "boolean"}, "online": {"type": "boolean"},
            "state": {"type": "string", "nullable": True},
            "last_seen_ms": {"type": "integer", "nullable": True},
            "battery_pct": {"type": "integer", "nullable": True},
            "journal": {"type": "integer", "nullable": True},
            "fw": {"type": "string", "nullable": True},
            "clock": {"type": "string", "nullable": True},
            "acked_seq": {"type": "integer", "nullable": True},
            "rejected": {"type": "integer"},
            "last_reject": {"type": "string", "nullable": True}}},
        "Vote": {"type": "object", "properties": {
            "device_id": {"type": "string"}, "seq": {"type": "integer"},
            "utc_ms": {"type": "integer"}, "level": {"type": "integer"},
            "scale": {"type": "integer"}, "flags": {"type": "integer"},
            "boot": {"type": "integer"}, "received_ms": {"type": "integer"}}},
        "VotePage": {"type": "object", "properties": {
            "site_id": {"type": "string"},
            "votes": {"type": "array", "items": {"$ref": "#/components/schemas/Vote"}},
            "next": {"type": "string", "nullable": True},
            "pending_undated": {"type": "integer",
                                "description": "votes still waiting for their boot's anchor"}}},
    }},
}


async def openapi(request):
    return web.json_response(OPENAPI)
