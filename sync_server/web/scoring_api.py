"""JSON API of the satisfaction figures (read from the rollups):

- GET /api/v1/sites/{id}/satisfaction?from=YYYY-MM-DD&to=YYYY-MM-DD
  [&source=kiosk|qr|mystery][&shrink=1][&trace=1]: trace=1 adds the rollup
  rows behind the figures;
- GET /api/v1/ranking?from=&to=[&source=kiosk|qr].

Who may call them is `audience`'s table.

Days are the site's local days. Without from/to: the 30 days to today.
Errors: {"error": {"status": 400, "message": "..."}}."""
import datetime
import json
from typing import Any

from aiohttp import web

from sync_server.scoring import report as scoring_report
from sync_server.web import scoring_warm
from sync_server.web.api import error, query_param
from sync_server.web.keys import DB
from sync_server.web.scope import visible_sites
from sync_server.web.screen_data import site_row


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/sites/{site_id}/satisfaction", satisfaction)
    app.router.add_get("/api/v1/ranking", ranking)


FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _flag(request, name):
    text = query_param(request, name)
    if text is None:
        return False
    if text not in FLAGS:
        raise web.HTTPBadRequest(text="%s must be true or false, not %r" % (name, text))
    return FLAGS[text]


async def satisfaction(request: web.Request) -> web.Response:
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    if site_row(db, site_id) is None:
        return error(404, "unknown site: %s" % site_id)
    source = query_param(request, "source")
    if source is not None and source not in scoring_report.SOURCES:
        return error(400, "source must be one of %s" % ", ".join(scoring_report.SOURCES))
    try:
        from_day, to_day = scoring_report.period(
            query_param(request, "from"), query_param(request, "to"),
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
    source = query_param(request, "source") or "kiosk"
    if source not in scoring_report.LEVEL_SOURCES:
        return error(400, "source must be one of %s" % ", ".join(scoring_report.LEVEL_SOURCES))
    try:
        from_day, to_day = scoring_report.period(
            query_param(request, "from"), query_param(request, "to"),
            datetime.datetime.now(datetime.timezone.utc).date())
    except scoring_report.PeriodError as e:
        return error(400, str(e))
    sites = visible_sites(request)
    await scoring_warm.ready(request.app, from_day, to_day, (source,), sites)
    return web.json_response(
        text=ranking_text(scoring_report.ranking(db, from_day, to_day, source, sites)))


def ranking_text(ranking: dict[str, Any]) -> str:
    """json.dumps of a `report.ranking`, its rows' text kept between calls
    (`ranked.Rows`)."""
    head = json.dumps({k: v for k, v in ranking.items() if k != "sites"})
    return '%s, "sites": %s}' % (head[:-1], ranking["sites"].json())
