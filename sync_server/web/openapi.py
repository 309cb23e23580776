"""The OpenAPI description of the JSON API, assembled here in one document
for every route under /api/ (and /healthz), and served at
/api/v1/openapi.json."""
from typing import Any

from aiohttp import web

from sync_server.web.api import PAGE_DEFAULT, PAGE_MAX


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def _err(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


def _day(name, desc):
    return {"name": name, "in": "query", "description": desc,
            "schema": {"type": "string", "format": "date"}}


def _answer(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"type": "object"}}}}


SATISFACTION = {"get": {
    "summary": "Satisfaction of a site per source (kiosk, qr, mystery) and composite:"
               " counts per level, n, happy index, positive share with its Wilson 95%"
               " interval, status, hourly profile, previous period (see METHOD.md)",
    "description": "A logged-in manager, or the site's screen key (`key`).",
    "parameters": [
        {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
        _day("from", "first local day, inclusive (default: 30 days ago)"),
        _day("to", "last local day, inclusive (default: today)"),
        {"name": "source", "in": "query", "schema": {"type": "string",
                                                     "enum": ["kiosk", "qr", "mystery"]}},
        {"name": "shrink", "in": "query", "schema": {"type": "boolean"},
         "description": "shrink small samples toward the network mean"},
        {"name": "trace", "in": "query", "schema": {"type": "boolean"},
         "description": "add the rollup rows behind the figures"},
        {"name": "key", "in": "query", "schema": {"type": "string"},
         "description": "the site's screen key"}],
    "responses": {"200": _answer("Figures of the period and the previous one"),
                  "400": _err("Bad parameter"),
                  "403": _err("Not allowed"),
                  "404": _err("Unknown site")}}}
RANKING = {"get": {
    "summary": "Every site ranked by happy index over a period (a logged-in manager)",
    "parameters": [_day("from", "first day, inclusive"), _day("to", "last day, inclusive"),
                   {"name": "source", "in": "query",
                    "schema": {"type": "string", "enum": ["kiosk", "qr"]}}],
    "responses": {"200": _answer("Sites with their figures, best first"),
                  "400": _err("Bad parameter"),
                  "403": _err("Not a manager")}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Borne sync server API", "version": "1",
             "description": "Sites, kiosks and their health, and the votes kiosks sent."},
    "paths": {
        "/healthz": {"get": {"summary": "Liveness, with MQTT ingest counters",
                             "description": "`mqtt.connected` is the broker session now (false"
                                            " as soon as the connection closes, within"
                                            " 20 s of a silent broker, within the 30 s keepalive);"
                                            " `mqtt.refused` and `qr.refused` count refused"
                                            " messages and QR posts per reason.",
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
        "/api/v1/sites/{site_id}/satisfaction": SATISFACTION,
        "/api/v1/ranking": RANKING,
    },
    "components": {"schemas": {
        "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "status": {"type": "integer"}, "message": {"type": "string"}}}}},
        "Site": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "timezone": {"type": "string"}, "buttons": {"type": "integer"},
            "hours": {"type": "object"}, "lockout_s": {"type": "integer"},
            "sync_s": {"type": "integer"}, "telemetry_s": {"type": "integer"},
            "archived_ms": {"type": "integer", "nullable": True},  # out of service since
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
            "last_reject": {"type": "string", "nullable": True},
            "undatable": {"type": "integer", "description":
                          "votes stored whose time is outside 2000..2100: never counted"}}},
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
