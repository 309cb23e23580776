"""A consultation's results for everyone, without login, at
/c/{token}/resultats (page), /c/{token}/resultats.csv and .json (open data,
docs/opendata.md): once it has ended, or while it runs if the manager chose
live results; before that the page says when they will be published. The
managers get the same files at any time under /manager/consultations,
with the kiosk card and the poster to print."""
from aiohttp import web

from sync_server.consultations import card, model, opendata, results
from sync_server.feedback import poster
from sync_server.storage import consultations as store
from sync_server.storage.connection import get_setting
from sync_server.web import render
from sync_server.web.consultation_manager import BASE
from sync_server.web.consultation_manager import consultation as manager_consultation
from sync_server.web.i18n import TEXT, pick_lang
from sync_server.web.keys import DB, SETTINGS


def _public(request: web.Request) -> tuple[dict | None, str]:
    lang = pick_lang(request.query.get("lang"))
    c = store.by_token(request.app[DB].conn, request.match_info["token"])
    if c is None or c["state"] == "draft":
        return None, lang
    return c, lang


def _not_public(request: web.Request, c: dict | None, lang: str) -> web.Response:
    t = TEXT[lang]
    if c is None:
        return render.page(request, "consultation_message.html", lang, status=404,
                           site_name="", title=t["cons_notfound_title"],
                           message=t["cons_notfound"], alert=False, back=None)
    return render.page(request, "consultation_message.html", lang, status=403,
                       site_name=c["title_" + lang], title=t["cons_results_later_title"],
                       message=t["cons_results_later"], alert=False,
                       back="/c/%s?lang=%s" % (c["token"], lang))


async def page(request: web.Request) -> web.Response:
    c, lang = _public(request)
    if c is None or not model.results_public(c):
        return _not_public(request, c, lang)
    res = results.compute(request.app[DB].conn, c["id"])
    return render.page(request, "consultation_results_page.html", lang, c=c, res=res,
                       site_name=c["title_" + lang], live=not model.ended(c))


def _file(c: dict, fmt: str, conn) -> web.Response:
    res = results.compute(conn, c["id"])
    if fmt == "json":
        body, ctype = opendata.to_json(res), "application/json"
    else:
        body, ctype = opendata.to_csv(res), "text/csv"
    return web.Response(text=body, content_type=ctype, charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="consultation-%d-resultats.%s"'
        % (c["id"], fmt), "Cache-Control": "no-store"})


async def public_file(request: web.Request) -> web.Response:
    c, lang = _public(request)
    if c is None or not model.results_public(c):
        return _not_public(request, c, lang)
    return _file(c, request.match_info["fmt"], request.app[DB].conn)


async def manager_file(request: web.Request) -> web.Response:
    return _file(manager_consultation(request), request.match_info["fmt"],
                 request.app[DB].conn)


async def manager_print(request: web.Request) -> web.Response:
    """The kiosk card or the phone page's poster (for all its sites, or the
    site `?site=`), as `borne consultation card|poster` writes them."""
    c = manager_consultation(request)
    fmt, what = request.match_info["fmt"], request.match_info["what"]
    conn = request.app[DB].conn
    if what == "card":
        if not c["kiosk_answers"]:
            raise web.HTTPNotFound(text="phone only: no kiosk card")
        data = poster.render(card.layout(c), fmt)
    else:
        base = (request.app[SETTINGS].get("public_url") or get_setting(conn, "qr_base_url")
                or "%s://%s" % (request.scheme, request.host))
        site = request.query.get("site")
        if site not in [s["id"] for s in store.sites_of(conn, c["id"])]:
            site = None
        url = base.rstrip("/") + "/c/" + c["token"] + ("?site=" + site if site else "")
        data = poster.render(poster.layout(c["title_fr"], url), fmt)
    types = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}
    return web.Response(body=data, content_type=types[fmt], headers={
        "Content-Disposition": 'attachment; filename="consultation-%d-%s.%s"'
        % (c["id"], what, fmt), "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/c/{token}/resultats", page)
    r.add_get(r"/c/{token}/resultats.{fmt:csv|json}", public_file)
    r.add_get(BASE + r"/{cid:[0-9]{1,5}}/results.{fmt:csv|json}", manager_file)
    r.add_get(BASE + r"/{cid:[0-9]{1,5}}/{what:card|poster}.{fmt:pdf|svg|png}", manager_print)
