"""The managers' alert list (`/manager/alerts`) and its acknowledge form
(CSRF protected like every manager form). Who may come in is `audience`'s
business, which alerts they see `scope`'s (a manager: their organisation's
sites'; an alert of another site answers 404 as an unknown one); the
banner of the agents' screen is `screen_data`'s."""
from aiohttp import web

from sync_server.storage import alerts as store
from sync_server.web import access, csrf, render, scope
from sync_server.web.i18n import TEXT, lang_of
from sync_server.web.keys import DB
from sync_server.web.screen_pages import message


def setup(app: web.Application) -> None:
    app.router.add_get("/manager/alerts", alerts_page)
    app.router.add_post("/manager/alerts/{alert_id:[0-9]{1,12}}/ack", ack_post)


async def alerts_page(request: web.Request) -> web.Response:
    show_all = request.query.get("all") == "1"
    rows = store.list_alerts(request.app[DB], live_only=not show_all,
                             site_ids=scope.visible_sites(request))
    return render.page(request, "manager_alerts.html", lang_of(request), alerts=rows,
                       show_all=show_all)


async def ack_post(request: web.Request) -> web.StreamResponse:
    lang = lang_of(request)
    form = await request.post()
    if not csrf.valid(request, form.get(csrf.FIELD)):
        return message(request, 403, "bad_title", TEXT[lang]["csrf"])
    alert_id = int(request.match_info["alert_id"])
    alert = store.get_alert(request.app[DB], alert_id)
    if alert is None or not scope.may_see(request, alert["site_id"]):
        return message(request, 404, "notfound_title", TEXT[lang]["notfound"])
    who = access.request_manager(request) or "?"
    if not store.acknowledge(request.app[DB], alert_id, who):
        return message(request, 409, "alert_not_open_title", TEXT[lang]["alert_not_open"])
    raise web.HTTPSeeOther("/manager/alerts?lang=%s" % lang)
