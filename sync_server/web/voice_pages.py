"""The manager's side of the agents' voice: the internal polls and their
results (under the anonymity rules of `sync_server.polls.anonymity`), the
moderation of free answers, the staff idea box (moderation, status and
reason), and the mirror of a site (page with an SVG chart, and JSON at
/api/v1/sites/{site}/mirror). Who may come in is `audience`'s table (the
manager pages and the API's readers); what they see is `scope`'s: a manager
lists and opens only the polls all of whose sites are theirs and the ideas
of their sites, anything else answers 404 as an unknown one."""
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from sync_server.feedback.answers import mask_contacts
from sync_server.polls import ideas, lifecycle, mirror, results
from sync_server.scoring import report as scoring_report
from sync_server.storage import polls as poll_store
from sync_server.storage import registry
from sync_server.web import csrf, render, scope
from sync_server.web.api import error, query_param
from sync_server.web.i18n import TEXT, lang_of, period_error
from sync_server.web.keys import DB
from sync_server.web.screen_pages import message

# The mirror chart's geometry (SVG user units).
CHART_W, LABEL_W, ROW_H, HEAD_H, RIGHT_PAD = 960, 300, 22, 30, 20


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/manager/polls", polls_page)
    r.add_get("/manager/polls/{poll_id}", poll_page)
    r.add_post("/manager/polls/{poll_id}/texts/{text_id}", text_post)
    r.add_get("/manager/ideas", ideas_page)
    r.add_post("/manager/ideas/{idea_id}", idea_post)
    r.add_get("/manager/sites/{site_id}/mirror", mirror_page)
    r.add_get("/api/v1/sites/{site_id}/mirror", mirror_json)


def _page(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    return render.page(request, name, lang_of(request), status=status, **context)


def _abort(request: web.Request, error_cls: type[web.HTTPError], title_key: str,
           text: str) -> NoReturn:
    page = message(request, error_cls.status_code, title_key, text)
    raise error_cls(text=page.text, content_type="text/html")


def _id(request: web.Request, name: str) -> int:
    text = request.match_info[name]
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) >= 2 ** 63:
        raise web.HTTPNotFound(text="not found")
    return int(text)


async def _form(request: web.Request) -> MultiDictProxy:
    form = await request.post()
    if not csrf.valid(request, form.get(csrf.FIELD)):
        _abort(request, web.HTTPForbidden, "bad_title", TEXT[lang_of(request)]["csrf"])
    return form


# --------------------------------------------------------------- polls

async def polls_page(request: web.Request) -> web.Response:
    db = request.app[DB]
    lifecycle.close_expired(db.conn)
    polls = poll_store.list_polls(db, within=scope.visible_sites(request))
    counts = {p: 0 for p in (x["id"] for x in polls)}
    for poll_id, _site, _a in poll_store.responses(db, list(counts)):
        counts[poll_id] += 1
    return _page(request, "manager_polls.html", polls=polls, counts=counts)


def _poll(request: web.Request, poll_id: int) -> dict:
    """The poll, if the request may see all its sites; else 404."""
    try:
        poll = lifecycle.get(request.app[DB], poll_id)
    except lifecycle.PollError:
        poll = None
    if poll is None or not scope.may_see_all(request, poll["sites"]):
        raise web.HTTPNotFound(text="no such poll")
    return poll


async def poll_page(request: web.Request) -> web.Response:
    db = request.app[DB]
    lang = lang_of(request)
    lifecycle.close_expired(db.conn)
    poll = _poll(request, _id(request, "poll_id"))
    names = dict(registry.site_names(db, scope.visible_sites(request)))
    return _page(request, "manager_poll.html", poll=poll, res=results.poll_results(db, poll, lang),
                 names=names, pending=poll_store.texts(db, poll["id"], "pending"),
                 mask=lambda text: mask_contacts(text, lang))


async def text_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    poll_id = _id(request, "poll_id")
    _poll(request, poll_id)
    text_id = _id(request, "text_id")
    if text_id not in {t["id"] for t in poll_store.texts(request.app[DB], poll_id)}:
        raise web.HTTPNotFound(text="no such free answer")
    try:
        lifecycle.moderate_text(request.app[DB], text_id, form.get("decision") == "approve")
    except lifecycle.PollError:
        raise web.HTTPNotFound(text="no such free answer") from None
    raise web.HTTPSeeOther("/manager/polls/%d?lang=%s" % (poll_id, lang_of(request)))


# --------------------------------------------------------------- ideas

async def ideas_page(request: web.Request, failed: str | None = None,
                     status: int = 200) -> web.Response:
    db = request.app[DB]
    sites = scope.visible_sites(request)
    return _page(request, "manager_ideas.html", status=status,
                 ideas=ideas.for_managers(db, lang=lang_of(request), site_ids=sites),
                 names=dict(registry.site_names(db, sites)), statuses=ideas.STATUSES,
                 failed=failed)


async def idea_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    db = request.app[DB]
    idea_id = _id(request, "idea_id")
    idea = poll_store.get_idea(db, idea_id)
    if idea is None or not scope.may_see(request, idea["site_id"]):
        raise web.HTTPNotFound(text="no such idea")
    action = form.get("action")
    try:
        if action in ("approve", "reject"):
            ideas.moderate(db, idea_id, action == "approve")
        else:
            ideas.answer(db, idea_id, str(form.get("status", "")), str(form.get("reason", "")))
    except ideas.IdeaError as e:
        if e.code == "unknown":
            raise web.HTTPNotFound(text="no such idea") from None
        return await ideas_page(request, failed=e.code, status=400)
    raise web.HTTPSeeOther("/manager/ideas?lang=%s#idea-%d" % (lang_of(request), idea_id))


# --------------------------------------------------------------- mirror

def _period(request: web.Request, site_id: str, api: bool = False):
    db = request.app[DB]
    try:
        return scoring_report.period(query_param(request, "from"), query_param(request, "to"),
                                     scoring_report.site_today(db, site_id))
    except scoring_report.PeriodError as e:
        if api:
            raise web.HTTPBadRequest(text=str(e)) from None
        _abort(request, web.HTTPBadRequest, "bad_request", period_error(e, lang_of(request)))


def mirror_chart(m: dict, lang: str) -> dict:
    """Geometry of the mirror chart: per criterion a heading and one row per
    part, a dot at the share and a line over its interval (0 to 100 %)."""
    t = TEXT[lang]
    span = CHART_W - LABEL_W - RIGHT_PAD
    rows, y = [], 0

    def x(share):
        return "%.1f" % (LABEL_W + span * share)

    summary = []
    for c in m["criteria"]:
        y += HEAD_H
        rows.append({"kind": "head", "y": y - 8, "label": c["label_" + lang]})
        for part in mirror.PARTS:
            fig = c[part]
            gap = c["gaps"].get(part) if part != "agents" else None
            row = {"kind": "part", "part": part, "y": y + ROW_H / 2,
                   "label": t["mirror_parts"][part], "n": fig["n"],
                   "shown": fig["share"] is not None,
                   "significant": bool(gap and gap["significant"])}
            if row["shown"]:
                row.update(cx=x(fig["share"]), x1=x(fig["interval"][0]),
                           x2=x(fig["interval"][1]), share=fig["share"])
                summary.append("%s, %s %d%% (n=%d)" % (c["label_" + lang], row["label"],
                                                        round(100 * fig["share"]), fig["n"]))
            rows.append(row)
            y += ROW_H
    ticks = [{"x": x(v / 100), "label": "%d %%" % v if lang == "fr" else "%d%%" % v}
             for v in (0, 25, 50, 75, 100)]
    return {"w": CHART_W, "h": y + 30, "rows": rows, "ticks": ticks, "axis_y": y + 4,
            "tick_y": y + 22, "summary": "; ".join(summary) or t["no_data"]}


async def mirror_page(request: web.Request) -> web.Response:
    db = request.app[DB]
    try:
        site = registry.get_site(db, request.match_info["site_id"])
    except registry.UnknownSite:
        raise web.HTTPNotFound(text="unknown site") from None
    from_day, to_day = _period(request, site["id"])
    lifecycle.close_expired(db.conn)
    m = mirror.mirror(db, site["id"], from_day, to_day)
    return _page(request, "manager_mirror.html", site=site, m=m, from_day=from_day,
                 to_day=to_day, chart=mirror_chart(m, lang_of(request)),
                 parts=mirror.PARTS, period_query=urlencode({"from": from_day.isoformat(),
                                                             "to": to_day.isoformat()}))


async def mirror_json(request: web.Request) -> web.Response:
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    if site_id not in dict(registry.site_names(db)):
        return error(404, "unknown site: %s" % site_id)
    from_day, to_day = _period(request, site_id, api=True)
    lifecycle.close_expired(db.conn)
    return web.json_response(mirror.mirror(db, site_id, from_day, to_day))
