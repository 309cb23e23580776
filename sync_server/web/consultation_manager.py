"""The managers' consultation pages under /manager/consultations: the list,
the form that creates or edits one (checked by `consultations.model`, with
a preview before saving), opening, closing and archiving, the preview of
the phone page, the results, and the moderation queue of ideas (contacts
masked; a rejection needs a reason). Who may come in is `audience`'s
business, what they see `scope`'s: a manager lists, opens and changes only
the consultations all of whose sites are theirs (any other answers 404 as
an unknown one) and picks only their own sites in the form. Every form
carries the `csrf` field."""
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from sync_server.consultations import model, phone, results
from sync_server.storage import consultations as store
from sync_server.storage import registry
from sync_server.storage.connection import now_ms, raw_conn
from sync_server.web import consultation_phone, csrf, render, scope
from sync_server.web.i18n import TEXT, consultation_error, lang_of
from sync_server.web.keys import DB
from sync_server.web.screen_pages import message

BASE = "/manager/consultations"
MAX_REASON = 300


def _page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    return render.page(request, name, lang_of(request), status=status, **context)


def consultation(request: web.Request) -> dict:
    """The consultation of the path, if the request may see all its sites;
    else a 404 page."""
    conn = request.app[DB].conn
    c = store.get(conn, int(request.match_info["cid"]))
    if c is None or not scope.may_see_all(
            request, [s["id"] for s in store.sites_of(conn, c["id"])]):
        lang = lang_of(request)
        page = message(request, 404, "cons_notfound_title", TEXT[lang]["cons_notfound"])
        raise web.HTTPNotFound(text=page.text, content_type="text/html")
    return c


async def _form(request: web.Request) -> MultiDictProxy:
    form = await request.post()
    if not csrf.valid(request, form.get(csrf.FIELD)):
        lang = lang_of(request)
        page = message(request, 403, "bad_title", TEXT[lang]["csrf"])
        raise web.HTTPForbidden(text=page.text, content_type="text/html")
    return form


def _typed(form: MultiDictProxy) -> dict[str, Any]:
    """The form's fields as model.check takes them."""
    out: dict[str, Any] = {k: str(form.get(k, "")) for k in (
        "title_fr", "title_en", "question_fr", "question_en", "opens", "closes",
        "kiosk_answers")}
    out["answers"] = [(str(form.get("answer_fr_%d" % i, "")), str(form.get("answer_en_%d" % i, "")))
                      for i in range(model.MAX_ANSWERS)]
    out["ideas"] = bool(form.get("ideas"))
    out["live_results"] = bool(form.get("live_results"))
    out["sites"] = [str(s) for s in form.getall("sites", [])]
    return out


def _errors_text(errors: list[tuple[str, str, tuple]], lang: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, code, args in errors:
        out.setdefault(field, []).append(consultation_error(code, args, lang))
    return out


def _edit_page(request: web.Request, values: dict[str, Any], c: dict | None,
               errors: dict[str, list[str]] | None = None, preview: bool = False,
               status: int = 200) -> web.Response:
    conn = request.app[DB].conn
    sites = registry.site_names(conn, scope.visible_sites(request))
    answers = list(values.get("answers") or [])
    answers += [("", "")] * (model.MAX_ANSWERS - len(answers))
    return _page(request, "manager_consultation_form.html", status=status, c=c,
                 values={**values, "answers": answers}, sites=sites, errors=errors or {},
                 preview=preview, kiosk_choices=model.KIOSK_CHOICES,
                 action=BASE + ("/%d" % c["id"] if c else "/new"))


async def list_page(request: web.Request) -> web.Response:
    conn = request.app[DB].conn
    rows = [{**c, "n": store.answer_total(conn, c["id"])}
            for c in store.list_all(conn, within=scope.visible_sites(request))]
    return _page(request, "manager_consultations.html", rows=rows,
                 pending=store.pending_counts(conn))


async def new_page(request: web.Request) -> web.Response:
    return _edit_page(request, {"answers": [], "kiosk_answers": "2", "sites": []}, None)


async def _save(request: web.Request, c: dict | None) -> web.StreamResponse:
    lang = lang_of(request)
    form = await _form(request)
    values = _typed(form)
    conn = raw_conn(request.app[DB])
    within = scope.visible_sites(request)
    if form.get("action") == "preview":
        known = {s[0] for s in registry.site_names(conn, within)}
        if c is not None:
            known |= {s["id"] for s in store.sites_of(conn, c["id"])}
        _, _, errors = model.check(values, known)
        return _edit_page(request, values, c, _errors_text(errors, lang), preview=not errors,
                          status=400 if errors else 200)
    try:
        if c is None:
            cid = model.create(conn, values, within=within)
        else:
            cid = c["id"]
            model.edit(conn, cid, values, within=within)
    except model.ConsultationError as e:
        return _edit_page(request, values, c, _errors_text(e.errors, lang), status=400)
    raise web.HTTPSeeOther("%s/%d?lang=%s&saved=1" % (BASE, cid, lang))


async def new_post(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


async def edit_post(request: web.Request) -> web.StreamResponse:
    return await _save(request, consultation(request))


async def detail_page(request: web.Request) -> web.Response:
    c = consultation(request)
    conn = request.app[DB].conn
    sites = [s["id"] for s in store.sites_of(conn, c["id"])]
    res = results.compute(conn, c["id"])
    return _page(request, "manager_consultation.html", c=c, res=res,
                 sites=store.sites_of(conn, c["id"]),
                 values=model.form_of(c, sites), moves=model.MOVES[c["state"]],
                 pending=len(store.ideas(conn, c["id"], "pending")),
                 saved=bool(request.query.get("saved")), running=model.running(c),
                 public=model.results_public(c))


async def edit_page(request: web.Request) -> web.Response:
    c = consultation(request)
    sites = [s["id"] for s in store.sites_of(request.app[DB].conn, c["id"])]
    return _edit_page(request, model.form_of(c, sites), c)


async def state_post(request: web.Request) -> web.StreamResponse:
    c = consultation(request)
    lang = lang_of(request)
    form = await _form(request)
    try:
        model.move(raw_conn(request.app[DB]), c["id"], str(form.get("state", "")))
    except model.ConsultationError as e:
        text = " ".join(consultation_error(code, args, lang) for _, code, args in e.errors)
        page = message(request, 409, "bad_title", text)
        raise web.HTTPConflict(text=page.text, content_type="text/html") from None
    raise web.HTTPSeeOther("%s/%d?lang=%s" % (BASE, c["id"], lang))


async def preview_page(request: web.Request) -> web.Response:
    c = consultation(request)
    return consultation_phone.render_form(request, c, lang_of(request), preview=True)


async def ideas_page(request: web.Request, errors: dict[int, str] | None = None,
                     status: int = 200) -> web.Response:
    c = consultation(request)
    lang = lang_of(request)
    conn = request.app[DB].conn
    done = [i for i in store.ideas(conn, c["id"]) if i["state"] != "pending"]
    return _page(request, "consultation_moderation.html", status=status, c=c,
                 queue=phone.queue(conn, c["id"], lang), errors=errors or {},
                 published=phone.published_ideas(conn, c["id"], lang),
                 rejected=len([i for i in done if i["state"] == "rejected"]),
                 max_reason=MAX_REASON)


async def moderate_post(request: web.Request) -> web.StreamResponse:
    c = consultation(request)
    lang = lang_of(request)
    form = await _form(request)
    idea_id = int(request.match_info["idea_id"])
    idea = store.get_idea(request.app[DB].conn, idea_id)
    if idea is None or idea["consultation_id"] != c["id"]:
        page = message(request, 404, "bad_title", TEXT[lang]["cons_idea_unknown"])
        raise web.HTTPNotFound(text=page.text, content_type="text/html")
    approve = form.get("decision") == "approve"
    reason = str(form.get("reason", "")).strip()
    if not approve and not reason:
        return await ideas_page(request, {idea_id: TEXT[lang]["cons_reason_missing"]}, 400)
    if len(reason) > MAX_REASON:
        return await ideas_page(request, {idea_id: TEXT[lang]["cons_reason_long"] % MAX_REASON},
                                400)
    phone.moderate(raw_conn(request.app[DB]), idea_id, approve, reason, now_ms())
    raise web.HTTPSeeOther("%s/%d/ideas?lang=%s" % (BASE, c["id"], lang))


def setup(app: web.Application) -> None:
    r = app.router
    cid = BASE + r"/{cid:[0-9]{1,5}}"
    r.add_get(BASE, list_page)
    r.add_get(BASE + "/new", new_page)
    r.add_post(BASE + "/new", new_post)
    r.add_get(cid, detail_page)
    r.add_post(cid, edit_post)
    r.add_get(cid + "/edit", edit_page)
    r.add_post(cid + "/state", state_post)
    r.add_get(cid + "/preview", preview_page)
    r.add_get(cid + "/ideas", ideas_page)
    r.add_post(cid + r"/ideas/{idea_id:[0-9]{1,12}}", moderate_post)
