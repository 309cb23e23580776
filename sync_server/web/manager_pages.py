"""The quality managers' view: login, every site ranked over a date range,
drill-down to one site, CSV exports. French by default, `lang=en` in English.
Who may come in is `audience`'s business (logins are `access`'s), the
figures `scoring.report`'s, the markup the templates `manager_*.html`';
forms carry the `csrf` field."""
import datetime
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web

from sync_server.feedback import answers
from sync_server.scoring import overview
from sync_server.scoring import report as scoring_report
from sync_server.scoring import stats as scoring
from sync_server.storage import firmware_updates, registry
from sync_server.web import access, csrf, csv_export, login_limits, render, scoring_warm
from sync_server.web.i18n import TEXT, lang_of, period_error
from sync_server.web.keys import DB
from sync_server.web.scope import visible_sites
from sync_server.web.screen_pages import message

RANKING_COLUMNS = ("rank", "site_id", "site_name", "source", "from", "to", "n", "happy_index",
                   "status", "positive_share", "positive_low95", "positive_high95",
                   "filtered", "filtered_share")


COMMENTS = 10  # latest QR comments on a site's page

THROTTLE = web.AppKey("login_throttle", login_limits.Throttle)


def setup(app: web.Application) -> None:
    app[THROTTLE] = login_limits.Throttle()
    r = app.router
    r.add_get("/manager", ranking_page)
    r.add_get("/manager/login", login_page)
    r.add_post("/manager/login", login_post)
    r.add_post("/manager/logout", logout_post)
    r.add_get("/manager/ranking.csv", ranking_csv)
    r.add_get("/manager/sites/{site_id}", site_page)
    r.add_get("/manager/sites/{site_id}/daily.csv", daily_csv)
    r.add_get("/manager/firmware", firmware_page)


def _page(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    return render.page(request, name, lang_of(request), status=status, **context)


async def login_page(request: web.Request, failed: bool = False,
                     retry_after: int = 0) -> web.Response:
    status = 429 if retry_after else 401 if failed else 200
    resp = _page(request, "manager_login.html", status=status, failed=failed,
                 retry_after=retry_after, next=access.safe_next(request.query.get("next")))
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _abort(request: web.Request, error: type[web.HTTPError], title_key: str,
           text: str) -> NoReturn:
    """Stop the request with a message page."""
    page = message(request, error.status_code, title_key, text)
    raise error(text=page.text, content_type="text/html")


async def _checked_form(request: web.Request):
    form = await request.post()
    if not csrf.valid(request, form.get(csrf.FIELD)):
        _abort(request, web.HTTPForbidden, "bad_title", TEXT[lang_of(request)]["csrf"])
    return form


async def login_post(request: web.Request) -> web.StreamResponse:
    form = await _checked_form(request)
    username = str(form.get("username", ""))[:64]
    throttle = request.app[THROTTLE]
    keys = login_limits.keys_of(username, request.remote)
    wait = throttle.wait_s(keys)
    if wait:
        return await login_page(request, retry_after=wait)
    throttle.attempt(keys)
    token = await access.login(request.app[DB], username, str(form.get("password", ""))[:200])
    if not token:
        return await login_page(request, failed=True)
    throttle.succeeded(keys)
    resp = web.HTTPFound(access.safe_next(str(form.get("next", ""))))
    resp.set_cookie(access.SESSION_COOKIE, token, httponly=True, samesite="Strict",
                    max_age=access.SESSION_DAYS * 86400, path="/",
                    secure=access.secure_cookies(request))
    raise resp


async def logout_post(request: web.Request) -> web.StreamResponse:
    await _checked_form(request)
    access.logout(request.app[DB], request.cookies.get(access.SESSION_COOKIE))
    resp = web.HTTPFound("/manager/login?lang=%s" % lang_of(request))
    resp.del_cookie(access.SESSION_COOKIE, path="/")
    raise resp


def _period(request: web.Request) -> tuple[datetime.date, datetime.date]:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    try:
        return scoring_report.period(request.query.get("from"), request.query.get("to"), today)
    except scoring_report.PeriodError as e:
        _abort(request, web.HTTPBadRequest, "bad_request", period_error(e, lang_of(request)))


def _source(request: web.Request) -> str:
    source = request.query.get("source") or "kiosk"
    if source not in scoring_report.LEVEL_SOURCES:
        source = "kiosk"  # only offered through the form's list
    return source


def _site(request: web.Request) -> dict:
    try:
        return registry.get_site(request.app[DB], request.match_info["site_id"])
    except registry.UnknownSite:
        raise web.HTTPNotFound(text="unknown site") from None


def _period_query(from_day, to_day, **more) -> str:
    return urlencode({"from": from_day.isoformat(), "to": to_day.isoformat(), **more})


async def ranking_page(request: web.Request) -> web.Response:
    """Every site the manager may see: the composite index and each source
    with the previous period and a trend mark, sorted by any column
    (`sort`, `dir=asc`), and a chart of the sorted column."""
    lang = lang_of(request)
    from_day, to_day = _period(request)
    source = _source(request)
    sort = request.query.get("sort") or source
    if sort not in overview.SORTS:
        sort = source  # only offered through the column headings
    descending = request.query.get("dir") != "asc"
    sites = visible_sites(request)
    for p_from, p_to in ((from_day, to_day), scoring_report.previous(from_day, to_day)):
        await scoring_warm.ready(request.app, p_from, p_to, scoring_report.LEVEL_SOURCES, sites)
    view = overview.overview(request.app[DB], from_day, to_day, sites, sort, descending)
    return _page(request, "manager_ranking.html", view=view, sites=view["sites"],
                 source=source, sort=sort, descending=descending, columns=overview.COLUMNS,
                 sources=scoring_report.LEVEL_SOURCES, from_day=from_day, to_day=to_day,
                 site_query=_period_query(from_day, to_day, lang=lang),
                 sort_query=_period_query(from_day, to_day, lang=lang, source=source),
                 csv_query=_period_query(from_day, to_day, source=source))


async def site_page(request: web.Request) -> web.Response:
    """One site: the composite and each source against the previous
    period, the trend by day or week, the weakest mystery criteria first,
    the QR topics counted and the latest QR comments, masked."""
    site = _site(request)
    from_day, to_day = _period(request)
    db = request.app[DB]
    shrink = request.query.get("shrink") == "1"
    unit = "week" if request.query.get("unit") == "week" else "day"
    report = scoring_report.satisfaction(db, site["id"], from_day, to_day, shrink=shrink)
    return _page(request, "manager_site.html", site=site, from_day=from_day, to_day=to_day,
                 shrink=shrink, source_names=scoring_report.SOURCES, report=report,
                 weights=scoring.COMPOSITE_WEIGHTS,
                 days=scoring_report.daily(db, site["id"], from_day, to_day),
                 unit=unit, units=overview.UNITS,
                 points=overview.trend_points(db, site["id"], from_day, to_day, unit),
                 weakest=overview.weakest_criteria(report["sources"]["mystery"]),
                 topics=overview.qr_topics(db, site["id"], from_day, to_day),
                 comments=answers.latest_comments(db, site["id"], COMMENTS),
                 period_query=_period_query(from_day, to_day))


async def firmware_page(request: web.Request) -> web.Response:
    """Rollouts of firmware updates (the operator's) and each visible kiosk's
    version and update state."""
    conn = request.app[DB].conn
    sites = visible_sites(request)
    return _page(request, "manager_firmware.html",
                 rollouts=firmware_updates.rollouts(conn) if sites is None else [],
                 kiosks=firmware_updates.kiosk_states(conn, site_ids=sites))


async def ranking_csv(request: web.Request) -> web.Response:
    from_day, to_day = _period(request)
    source = _source(request)
    sites = visible_sites(request)
    await scoring_warm.ready(request.app, from_day, to_day, (source,), sites)
    rank = scoring_report.ranking(request.app[DB], from_day, to_day, source, sites)
    rows = []
    for r in rank["sites"]:
        lo, hi = r["positive_interval"] or (None, None)
        rows.append([r["rank"], r["site"], r["name"], source, from_day, to_day, r["n"],
                     r["happy_index"], r["status"], r["positive_share"], lo, hi,
                     r["filtered"], r["filtered_share"]])
    return csv_export.response("ranking-%s-%s-%s.csv" % (source, from_day, to_day),
                               RANKING_COLUMNS, rows)


async def daily_csv(request: web.Request) -> web.Response:
    site_id = _site(request)["id"]
    from_day, to_day = _period(request)
    rows = [[site_id, source, day, n, idx]
            for source in scoring_report.LEVEL_SOURCES
            for day, n, idx in scoring_report.daily(request.app[DB], site_id, from_day,
                                                    to_day, source)]
    return csv_export.response("%s-%s-%s.csv" % (site_id, from_day, to_day),
                               ["site_id", "source", "day", "n", "happy_index"], rows)
