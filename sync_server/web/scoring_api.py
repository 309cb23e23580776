"""JSON API of the satisfaction figures (read from the rollups):

- GET /api/v1/sites/{id}/satisfaction?from=YYYY-MM-DD&to=YYYY-MM-DD
  [&source=kiosk|qr|mystery][&shrink=1][&trace=1]: a logged-in manager, or
  the site's screen link (`key=`); trace=1 adds the rollup rows behind the
  figures;
- GET /api/v1/ranking?from=&to=[&source=kiosk|qr]: a logged-in manager.

Days are the site's local days. Without from/to: the 30 days to today.
Errors: {"error": {"status": 400, "message": "..."}}."""
import datetime

from aiohttp import web

from sync_server.scoring import report as scoring_report
from sync_server.web.access import may_see_site, request_manager
from sync_server.web.api import OPENAPI, error
from sync_server.web.keys import DB
from sync_server.web.screen_data import site_row


def setup(app):
    app.router.add_get("/api/v1/sites/{site_id}/satisfaction", satisfaction)
    app.router.add_get("/api/v1/ranking", ranking)


def _day(name, desc):
    return {"name": name, "in": "query", "description": desc,
            "schema": {"type": "string", "format": "date"}}


def _answer(desc):
    return {"description": desc, "content": {"application/json": {"schema": {"type": "object"}}}}


_ERR = {"$ref": "#/components/schemas/Error"}
OPENAPI["paths"]["/api/v1/sites/{site_id}/satisfaction"] = {"get": {
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
                  "400": {"description": "Bad parameter", "content": {
                      "application/json": {"schema": _ERR}}},
                  "403": {"description": "Not allowed", "content": {
                      "application/json": {"schema": _ERR}}},
                  "404": {"description": "Unknown site", "content": {
                      "application/json": {"schema": _ERR}}}}}}
OPENAPI["paths"]["/api/v1/ranking"] = {"get": {
    "summary": "Every site ranked by happy index over a period (a logged-in manager)",
    "parameters": [_day("from", "first day, inclusive"), _day("to", "last day, inclusive"),
                   {"name": "source", "in": "query",
                    "schema": {"type": "string", "enum": ["kiosk", "qr"]}}],
    "responses": {"200": _answer("Sites with their figures, best first"),
                  "400": {"description": "Bad parameter", "content": {
                      "application/json": {"schema": _ERR}}},
                  "403": {"description": "Not a manager", "content": {
                      "application/json": {"schema": _ERR}}}}}}


def _flag(request, name):
    return request.query.get(name, "") in ("1", "true", "yes")


async def satisfaction(request):
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    if site_row(db, site_id) is None:
        return error(404, "unknown site: %s" % site_id)
    if not may_see_site(request, db, site_id):
        return error(403, "log in as a manager or give this site's screen key")
    source = request.query.get("source") or None
    if source is not None and source not in scoring_report.SOURCES:
        return error(400, "source must be one of %s" % ", ".join(scoring_report.SOURCES))
    try:
        from_day, to_day = scoring_report.period(
            request.query.get("from"), request.query.get("to"),
            scoring_report.site_today(db, site_id))
    except scoring_report.PeriodError as e:
        return error(400, str(e))
    out = scoring_report.satisfaction(db, site_id, from_day, to_day, source=source,
                                      shrink=_flag(request, "shrink"))
    if _flag(request, "trace") and source != "mystery":
        out["trace"] = {
            "columns": ["day", "hour", "source", "scale", "level", "filt", "n"],
            "rollup_rows": scoring_report.trace_rows(db, site_id, from_day, to_day, source),
            "raw_votes": "/api/v1/sites/%s/votes?from=%d&to=%d" % (
                (site_id,) + scoring_report.day_bounds_ms(db, site_id, from_day, to_day))}
    return web.json_response(out)


async def ranking(request):
    db = request.app[DB]
    if not request_manager(request, db):
        return error(403, "log in as a manager")
    source = request.query.get("source") or "kiosk"
    if source not in scoring_report.LEVEL_SOURCES:
        return error(400, "source must be one of %s" % ", ".join(scoring_report.LEVEL_SOURCES))
    try:
        from_day, to_day = scoring_report.period(
            request.query.get("from"), request.query.get("to"),
            datetime.datetime.now(datetime.timezone.utc).date())
    except scoring_report.PeriodError as e:
        return error(400, str(e))
    return web.json_response(scoring_report.ranking(db, from_day, to_day, source))
