"""A consultation's phone page at /c/{token}: the question, the answers,
an idea if the consultation collects them, and the published ideas to
support (+1). Works without JavaScript, French by default, English on
request; posts are CSRF-protected and go through
`sync_server.consultations.phone` (one answer per phone, the QR form's
per-address budget). `?site=ID` (the site's poster) says where the answer
comes from; without it the citizen picks the site if there are several."""
import logging
import re
from typing import Any

from aiohttp import web

from sync_server.consultations import model, phone
from sync_server.feedback import guard
from sync_server.storage import consultations as store
from sync_server.web import csrf, render
from sync_server.web.feedback import LIMITER, REFUSED, BadRequest, parse_body
from sync_server.web.i18n import TEXT, pick_lang
from sync_server.web.keys import DB, SETTINGS

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INDEX = re.compile(r"[0-9]{1,2}")


def _message(request, lang, c, title_key, message_key, status=200, alert=False, back=False):
    t = TEXT[lang]
    return render.page(request, "consultation_message.html", lang, status=status,
                       switch_keep=("site",), site_name=c["title_" + lang] if c else "",
                       title=t[title_key], message=t[message_key], alert=alert,
                       back="/c/%s?lang=%s" % (c["token"], lang) if back and c else None)


def _consultation(handler):
    """Give the handler the token's consultation and the page's language;
    an unknown token or a draft gets the 404 page."""
    async def wrapped(request):
        lang = pick_lang(request.query.get("lang"))
        c = store.by_token(request.app[DB].conn, request.match_info["token"])
        if c is None or c["state"] == "draft":
            return _message(request, lang, None, "cons_notfound_title", "cons_notfound",
                            status=404)
        return await handler(request, c, lang)
    return wrapped


def _site_choice(request, c, sites):
    """The site the page answers for: ?site= if the consultation runs
    there, the only site if there is one, else None (the citizen picks)."""
    wanted = request.query.get("site")
    ids = [s["id"] for s in sites]
    if wanted in ids:
        return wanted
    return ids[0] if len(ids) == 1 else None


def render_form(request: web.Request, c: dict, lang: str, values: dict | None = None,
                errors: dict | None = None, status: int = 200,
                preview: bool = False) -> web.Response:
    """The page; after a refused answer with what was typed and what is
    wrong. `preview`: the manager's look at it (no form posts)."""
    conn = request.app[DB].conn
    sites = store.sites_of(conn, c["id"])
    site = _site_choice(request, c, sites)
    action = "/c/%s%s" % (c["token"], "?site=" + site if site and request.query.get("site")
                          else "")
    answered = not preview and phone.has_answered(conn, c["id"],
                                                  request.cookies.get(csrf.COOKIE))
    ideas = phone.published_ideas(conn, c["id"], lang) if c["ideas"] else []
    supported = {i["id"] for i in ideas
                 if phone.has_supported(conn, i["id"], request.cookies.get(csrf.COOKIE))}
    return render.page(
        request, "consultation_form.html", lang, status=status, switch_keep=("site",),
        c=c, site_name=c["title_" + lang], question=c["question_" + lang],
        answers=[a[lang] for a in c["answers"]], sites=sites, site=site,
        running=model.running(c), answered=answered, action=action, ideas=ideas,
        supported=supported, preview=preview, max_idea=phone.MAX_IDEA,
        results_public=model.results_public(c),
        values=values or {"answer": None, "idea": "", "site": site}, errors=errors or {})


@_consultation
async def get_page(request: web.Request, c: dict, lang: str) -> web.Response:
    return render_form(request, c, lang)


def validate(fields: dict[str, list[str]], c: dict, site_ids: list[str],
             default_site: str | None, lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    t = TEXT[lang]
    errors = {}
    values: dict[str, Any] = {"answer": None, "idea": "", "site": default_site}
    got = fields.get("answer", [])
    if not got or got == [""]:
        errors["answer"] = t["cons_answer_missing"]
    elif len(got) != 1 or not _INDEX.fullmatch(got[0]) or int(got[0]) >= len(c["answers"]):
        errors["answer"] = t["cons_answer_bad"]
    else:
        values["answer"] = int(got[0])
    if default_site is None:
        got_site = fields.get("site") or [""]
        if len(got_site) != 1 or got_site[0] not in site_ids:
            errors["site"] = t["cons_site_missing"]
        else:
            values["site"] = got_site[0]
    idea = "\n".join(fields.get("idea", [""])).replace("\r\n", "\n").replace("\r", "\n").strip()
    values["idea"] = idea
    if idea and not c["ideas"]:
        errors["idea"] = t["cons_no_ideas"]
    elif len(idea) > phone.MAX_IDEA:
        errors["idea"] = t["cons_idea_long"] % len(idea)
    elif _CONTROL.search(idea):
        errors["idea"] = t["comment_chars"]
    return values, errors


async def _read_post(request, c, lang):
    """(fields, the page's language, None) of a post that may go on, or
    (None, lang, the refusal page): too large, unreadable or forged."""
    refuse = _refuser(request, c)
    problem = None
    if (request.content_length or 0) > 16 * 1024:
        problem = "too_large"
    else:
        raw = await request.content.read(16 * 1024 + 1)
        try:
            fields = parse_body(raw)
        except BadRequest as e:
            problem = str(e)
        else:
            lang = pick_lang((fields.get("lang") or [lang])[0])
            if not csrf.valid(request, (fields.get(csrf.FIELD) or [""])[0], request.path):
                problem = "csrf"
    if problem:
        refuse(problem, problem)
        return None, lang, _message(request, lang, c, "bad_title", problem, status=400,
                                    alert=True, back=True)
    return fields, lang, None


def _refuser(request, c):
    refused = request.app[REFUSED]

    def refuse(reason, why):
        """Count and log a refused post (never its address)."""
        refused["c_" + reason] = refused.get("c_" + reason, 0) + 1
        log.info("consultation %d post refused: %s", c["id"], why)
    return refuse


@_consultation
async def post_answer(request: web.Request, c: dict, lang: str) -> web.Response:
    conn = request.app[DB].conn
    refuse = _refuser(request, c)
    fields, lang, refused = await _read_post(request, c, lang)
    if refused is not None:
        return refused
    if not model.running(c):
        refuse("closed", "the consultation does not take answers now")
        return _message(request, lang, c, "cons_closed_title", "cons_closed", status=409,
                        alert=True)
    sites = store.sites_of(conn, c["id"])
    default_site = _site_choice(request, c, sites)
    values, errors = validate(fields, c, [s["id"] for s in sites], default_site, lang)
    if errors:
        refuse("invalid", "returned with errors: " + ",".join(errors))
        return render_form(request, c, lang, values, errors, status=400)
    settings = request.app[SETTINGS]
    address = guard.client_address(request, settings.get("trust_proxy", False))
    outcome = phone.store_answer(conn, c, values["site"], values["answer"], values["idea"],
                                 lang, request.app[LIMITER], address,
                                 request.cookies[csrf.COOKIE], guard.now_ms())
    if outcome == phone.ANSWERED:
        refuse("answered", "this phone answered already")
        return _message(request, lang, c, "again_title", "cons_again", status=409, alert=True,
                        back=True)
    if outcome == phone.OVER_BUDGET:
        refuse("over_budget", "address out of budget")
        return _message(request, lang, c, "qr_rate_title", "qr_rate", status=429, alert=True)
    raise web.HTTPSeeOther("/c/%s/merci?lang=%s%s" % (
        c["token"], lang, "&idea=1" if values["idea"] and c["ideas"] else ""))


@_consultation
async def thanks(request: web.Request, c: dict, lang: str) -> web.Response:
    key = "cons_thanks_idea" if request.query.get("idea") else "cons_thanks"
    return _message(request, lang, c, "thanks_title", key, back=True)


@_consultation
async def post_support(request: web.Request, c: dict, lang: str) -> web.Response:
    conn = request.app[DB].conn
    refuse = _refuser(request, c)
    fields, lang, refused = await _read_post(request, c, lang)
    if refused is not None:
        return refused
    idea_id = request.match_info["idea_id"]
    if not model.running(c):
        refuse("closed", "support after the close")
        return _message(request, lang, c, "cons_closed_title", "cons_closed", status=409,
                        alert=True)
    settings = request.app[SETTINGS]
    address = guard.client_address(request, settings.get("trust_proxy", False))
    outcome = phone.support(conn, c, int(idea_id), request.app[LIMITER], address,
                            request.cookies[csrf.COOKIE], guard.now_ms())
    if outcome == phone.UNKNOWN:
        refuse("unknown_idea", "support of an idea not published")
        return _message(request, lang, c, "bad_title", "cons_idea_unknown", status=404,
                        alert=True, back=True)
    if outcome == phone.ANSWERED:
        refuse("supported", "this phone supported the idea already")
        return _message(request, lang, c, "cons_supported_title", "cons_supported",
                        status=409, alert=True, back=True)
    if outcome == phone.OVER_BUDGET:
        refuse("over_budget", "address out of budget")
        return _message(request, lang, c, "qr_rate_title", "qr_rate", status=429, alert=True)
    raise web.HTTPSeeOther("/c/%s?lang=%s#idea-%s" % (c["token"], lang, idea_id))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/c/{token}", get_page)
    r.add_post("/c/{token}", post_answer)
    r.add_get("/c/{token}/merci", thanks)
    r.add_post(r"/c/{token}/ideas/{idea_id:[0-9]{1,12}}", post_support)
