"""The barometer's pages: the public page of an edition's trophies and its
open-data CSV; for managers, the national summary and an organisation's
report (a manager reads their own organisation's only: `audience` refuses
another `{org_id}`)."""
from aiohttp import web

from sync_server.barometer import report as reports
from sync_server.storage import barometer as store
from sync_server.web import csv_export, render
from sync_server.web.i18n import lang_of
from sync_server.web.keys import DB
from sync_server.web.scope import visible_orgs


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/barometer/{year}", trophies_page)
    r.add_get("/barometer/{year}/open-data.csv", open_data)
    r.add_get("/manager/barometer/{year}", national_page)
    r.add_get("/manager/barometer/{year}/orgs/{org_id}", org_page)


def _edition(request: web.Request) -> dict:
    text = request.match_info["year"]
    row = store.edition(request.app[DB], int(text)) if text.isascii() and text.isdigit() \
        and len(text) == 4 else None
    if row is None:
        raise web.HTTPNotFound(text="no such edition")
    return row


async def trophies_page(request: web.Request) -> web.Response:
    edition = _edition(request)
    return render.page(request, "barometer_trophies.html", lang_of(request), edition=edition,
                       awards=store.awards(request.app[DB], edition["year"]))


async def open_data(request: web.Request) -> web.Response:
    year = _edition(request)["year"]
    return csv_export.response("barometre-%d.csv" % year,
                               [c for c, _doc in reports.OPEN_DATA_COLUMNS],
                               reports.open_data_rows(request.app[DB], year))


async def national_page(request: web.Request) -> web.Response:
    year = _edition(request)["year"]
    orgs = visible_orgs(request)
    summary = reports.national(request.app[DB], year, None if orgs is None else set(orgs))
    return render.page(request, "barometer_national.html", lang_of(request), summary=summary)


async def org_page(request: web.Request) -> web.Response:
    year = _edition(request)["year"]
    text = request.match_info["org_id"]
    report = reports.organisation(request.app[DB], year, int(text)) \
        if text.isascii() and text.isdigit() and len(text) < 10 else None
    if report is None:
        raise web.HTTPNotFound(text="this organisation has no report in this edition")
    return render.page(request, "barometer_report.html", lang_of(request), report=report)
