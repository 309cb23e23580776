"""The OpenAPI description of the JSON API, assembled here in one document
for every route under /api/ (and /healthz), and served at
/api/v1/openapi.json. Each operation's security and its 401 and 403 answers
come from `audience.ROUTES`, so the document says what the middleware does."""
import copy
from typing import Any

from aiohttp import web

from sync_server.scoring.report import FIRST_DAY, LAST_DAY
from sync_server.web import audience
from sync_server.web.api import PAGE_DEFAULT, PAGE_MAX


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)


def _err(desc: str) -> dict[str, Any]:
    return {"description": desc, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


def _day(name, desc):
    return {"name": name, "in": "query", "description": desc + " (%s to %s)" % (
        FIRST_DAY, LAST_DAY), "schema": {"type": "string", "format": "date",
                                         "pattern": r"^(20[0-9][0-9]|2100)-"}}


# A time of the votes API: ms since 1970 UTC, or an ISO 8601 date or date-time.
TIME = {"anyOf": [{"type": "string", "pattern": r"^-?[0-9]{1,15}$"},
                  {"type": "string", "format": "date"},
                  {"type": "string", "format": "date-time"}]}


def _answer(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"type": "object"}}}}


SATISFACTION = {"get": {
    "summary": "Satisfaction of a site per source (kiosk, qr, mystery) and composite:"
               " counts per level, n, happy index, positive share with its Wilson 95%"
               " interval, status, hourly profile, previous period (see METHOD.md)",
    "description": "A logged-in manager, an API token, or the site's screen key (`key`).",
    "parameters": [
        {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
        _day("from", "first local day, inclusive (default: 30 days ago)"),
        _day("to", "last local day, inclusive (default: today)"),
        {"name": "source", "in": "query", "schema": {"type": "string",
                                                     "enum": ["kiosk", "qr", "mystery"]}},
        {"name": "shrink", "in": "query", "schema": {"type": "boolean"},
         "description": "shrink small samples toward the network mean"},
        {"name": "trace", "in": "query", "schema": {"type": "boolean"},
         "description": "add the rollup rows behind the figures"}],
    "responses": {"200": _answer("Figures of the period and the previous one"),
                  "400": _err("Bad parameter"),
                  "404": _err("Unknown site")}}}
MIRROR = {"get": {
    "summary": "The mirror of a site: per quality criterion, the agents' positive share (closed"
               " internal polls, groups of 5 or more only) beside the users' kiosk and QR"
               " (topic) shares and the mystery compliance of that step, each with n and its"
               " Wilson 95% interval, and the gaps flagged significant when the intervals do not"
               " overlap (see METHOD.md)",
    "parameters": [
        {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
        _day("from", "first local day, inclusive (default: 30 days ago)"),
        _day("to", "last local day, inclusive (default: today)")],
    "responses": {"200": {"description": "Criteria with their parts and gaps", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Mirror"}}}},
        "400": _err("Bad parameter"), "404": _err("Unknown site")}}}
RANKING = {"get": {
    "summary": "Every site ranked by happy index over a period",
    "parameters": [_day("from", "first day, inclusive"), _day("to", "last day, inclusive"),
                   {"name": "source", "in": "query",
                    "schema": {"type": "string", "enum": ["kiosk", "qr"]}}],
    "responses": {"200": _answer("Sites with their figures, best first"),
                  "400": _err("Bad parameter")}}}

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
            "parameters": [{"name": "site", "in": "query",
                            "schema": {"type": "string", "minLength": 1},
                            "description": "only the kiosks of this site"}],
            "responses": {"200": {"description": "Kiosks", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"kiosks": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Kiosk"}}}}}}},
                "400": _err("Bad parameter")}}},
        "/api/v1/firmware": {"get": {
            "summary": "Firmware updates over the air: each rollout (release, cohort, state,"
                       " kiosks updated and failed; empty for a manager of one organisation)"
                       " and each visible kiosk's version and update state",
            "parameters": [{"name": "site", "in": "query",
                            "schema": {"type": "string", "minLength": 1},
                            "description": "only the kiosks of this site"}],
            "responses": {"200": {"description": "Rollouts and kiosks", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "rollouts": {"type": "array", "items": {"type": "object"}},
                    "kiosks": {"type": "array", "items": {"type": "object", "properties": {
                        "device_id": {"type": "string"}, "site_id": {"type": "string"},
                        "fw": {"type": ["string", "null"]},
                        "state": {"type": "string", "enum": [
                            "idle", "downloading", "installed", "trial", "ok", "refused",
                            "failed", "rolled_back"]},
                        "release_id": {"type": ["string", "null"]},
                        "got": {"type": "integer"}, "size": {"type": "integer"},
                        "error": {"type": ["string", "null"]}}}}}}}}},
                "400": _err("Bad parameter")}}},
        "/api/v1/sites/{site_id}/votes": {"get": {
            "summary": "Dated votes of a site, oldest first, paged",
            "parameters": [
                {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "from", "in": "query", "schema": TIME,
                 "description": "inclusive: ms since 1970 UTC or ISO 8601"},
                {"name": "to", "in": "query", "schema": TIME,
                 "description": "exclusive: ms since 1970 UTC or ISO 8601"},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX,
                            "default": PAGE_DEFAULT}},
                {"name": "after", "in": "query", "schema": {"type": "string", "minLength": 1},
                 "description": "page cursor: follow the `next` link"}],
            "responses": {
                "200": {"description": "A page of votes", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/VotePage"}}}},
                "400": _err("Bad parameter"), "404": _err("Unknown site")}}},
        "/api/v1/sites/{site_id}/satisfaction": SATISFACTION,
        "/api/v1/ranking": RANKING,
        "/api/v1/sites/{site_id}/mirror": MIRROR,
        "/api/v1/sites/{site_id}/screen-links": {"post": {
            "summary": "A new secret link to the site's screen; its key is in this answer only",
            "parameters": [
                {"name": "site_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "label", "in": "query", "description": "where the screen hangs",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 100}}],
            "responses": {
                "201": {"description": "The link", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ScreenLink"}}}},
                "400": _err("Bad parameter"), "404": _err("Unknown site")}}},
        "/api/v1/screen-links/{link_id}": {"delete": {
            "summary": "Revoke a screen link: its screens close",
            "parameters": [{"name": "link_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {
                "200": _answer("Revoked"), "400": _err("Bad parameter"),
                "404": _err("No active link with this id")}}},
    },
    "components": {"securitySchemes": {
        "token": {"type": "http", "scheme": "bearer",
                  "description": "an API token (`borne token add`), scope read or admin"},
        "manager": {"type": "apiKey", "in": "cookie", "name": "borne_manager",
                    "description": "a manager's session, after logging in at /manager/login"},
        "screenKey": {"type": "apiKey", "in": "query", "name": "key",
                      "description": "a site's screen key (`borne screen link add`)"},
    }, "schemas": {
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
                          "votes stored whose time is outside 2000..2100: never counted"},
            "unknown_campaign": {"type": "integer", "description":
                                 "answers stored to a campaign no consultation has: "
                                 "kept apart, never counted"}}},
        "Vote": {"type": "object", "properties": {
            "device_id": {"type": "string"}, "seq": {"type": "integer"},
            "utc_ms": {"type": "integer"}, "level": {"type": "integer"},
            "scale": {"type": "integer"}, "flags": {"type": "integer"},
            "boot": {"type": "integer"}, "received_ms": {"type": "integer"}}},
        "ScreenLink": {"type": "object", "properties": {
            "id": {"type": "integer"}, "site_id": {"type": "string"},
            "key": {"type": "string"}, "path": {"type": "string"}}},
        "Share": {"type": "object", "properties": {
            "n": {"type": "integer"}, "x": {"type": "integer", "description": "positive or pass"},
            "share": {"type": "number", "nullable": True},
            "interval": {"type": "array", "items": {"type": "number"}, "nullable": True}}},
        "Mirror": {"type": "object", "properties": {
            "site_id": {"type": "string"}, "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "polls": {"type": "array", "items": {"type": "integer"}},
            "criteria": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string", "enum": ["access", "waiting", "welcome",
                                                     "information", "efficiency"]},
                "label_fr": {"type": "string"}, "label_en": {"type": "string"},
                "agents": {"$ref": "#/components/schemas/Share"},
                "kiosk": {"$ref": "#/components/schemas/Share"},
                "qr": {"$ref": "#/components/schemas/Share"},
                "mystery": {"$ref": "#/components/schemas/Share"},
                "gaps": {"type": "object", "additionalProperties": {
                    "type": "object", "nullable": True, "properties": {
                        "difference": {"type": "number"},
                        "significant": {"type": "boolean"}}}}}}}}},
        "VotePage": {"type": "object", "properties": {
            "site_id": {"type": "string"},
            "votes": {"type": "array", "items": {"$ref": "#/components/schemas/Vote"}},
            "next": {"type": "string", "nullable": True},
            "pending_undated": {"type": "integer",
                                "description": "votes still waiting for their boot's anchor"}}},
    }},
}


# Who may call an operation, as OpenAPI security requirements (any one).
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    audience.PUBLIC: [],
    audience.SITE: [{"token": []}, {"manager": []}, {"screenKey": []}],
    audience.READ: [{"token": []}, {"manager": []}],
    audience.ADMIN: [{"token": []}]}
REFUSALS = {"401": _err("No credentials, or an unknown or revoked token"),
            "403": _err("Credentials that do not reach this operation")}


def _secured(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with each operation's security and refusals."""
    doc = copy.deepcopy(doc)
    for path, item in doc["paths"].items():
        who = audience.ROUTES[path]
        for op in item.values():
            op["security"] = SECURITY[who]
            if who != audience.PUBLIC:
                op["responses"].update(REFUSALS)
    return doc


DOCUMENT = _secured(OPENAPI)
