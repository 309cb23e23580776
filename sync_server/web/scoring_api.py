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
from sync_server.web.api import error
from sync_server.web.keys import DB
from sync_server.web.screen_data import site_row


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/sites/{site_id}/satisfaction", satisfaction)
    app.router.add_get("/api/v1/ranking", ranking)


def _flag(request, name):
    return request.query.get(name, "") in ("1", "true", "yes")


async def satisfaction(request: web.Request) -> web.Response:
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    if site_row(db, site_id) is None:
        return error(404, "unknown site: %s" % site_id)
    if not may_see_site(request, site_id):
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


async def ranking(request: web.Request) -> web.Response:
    db = request.app[DB]
    if not request_manager(request):
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
