"""The agents' pages of a site, opened by its team link
`/team/{site}?key=SECRET` (rotatable, like the screen links): the polls open
today, answered one question per screen, and the idea box. They work
without JavaScript; the answers of a poll travel from screen to screen in
the form itself and are stored only at the last one. A random cookie (never
stored as such) lets a device answer a poll and support an idea once:
`sync_server.polls` keeps only a hash of it per poll or idea."""
import logging
import re
import secrets
from typing import NoReturn
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from sync_server.polls import ideas, lifecycle, questions
from sync_server.storage import registry
from sync_server.web import access, csrf, render
from sync_server.web.feedback import SMILEYS
from sync_server.web.i18n import TEXT, lang_of
from sync_server.web.keys import DB

log = logging.getLogger(__name__)

DEVICE_COOKIE = "borne_team"
DEVICE_DAYS = 400
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_NEW_DEVICE = web.RequestKey("team_new_device", str)
_VALUE = re.compile(r"[0-9]{1,2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
KEEP = ("key",)  # what the language picker carries over
MAX_BODY = 32 * 1024


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/team/{site_id}", home)
    r.add_get("/team/{site_id}/polls/{poll_id}", poll_page)
    r.add_post("/team/{site_id}/polls/{poll_id}", poll_post)
    r.add_get("/team/{site_id}/ideas", ideas_page)
    r.add_post("/team/{site_id}/ideas", idea_post)
    r.add_post("/team/{site_id}/ideas/{idea_id}/support", support_post)


# --------------------------------------------------------------- helpers

def device(request: web.Request) -> str:
    """This browser's random team cookie (a new one if it has none)."""
    value = request.get(_NEW_DEVICE) or request.cookies.get(DEVICE_COOKIE, "")
    if not _DEVICE.match(value):
        value = request[_NEW_DEVICE] = secrets.token_urlsafe(24)
    return value


def _send(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    new = request.get(_NEW_DEVICE)
    if new:
        resp.set_cookie(DEVICE_COOKIE, new, path="/team/", max_age=DEVICE_DAYS * 86400,
                        httponly=True, samesite="Lax", secure=access.secure_cookies(request))
    return resp


def _redirect(request: web.Request, location: str) -> NoReturn:
    """After a post: see the next page (with the device cookie if new)."""
    resp = web.HTTPSeeOther(location)
    _send(request, resp)
    raise resp


def _query(request: web.Request, **more: str) -> str:
    return urlencode({"key": request.query.get("key", ""), "lang": lang_of(request), **more})


def _site(request: web.Request) -> dict:
    return registry.get_site(request.app[DB], request.match_info["site_id"])


def _page(request: web.Request, name: str, status: int = 200, **context) -> web.StreamResponse:
    site = _site(request)
    return _send(request, render.page(request, name, lang_of(request), status=status,
                                      switch_keep=KEEP, site=site, query=_query(request),
                                      base="/team/" + site["id"], **context))


def _message(request: web.Request, title_key: str, message_key: str, status: int = 200,
             alert: bool = False) -> web.StreamResponse:
    if status >= 400:  # a refused request is logged with its reason, never its address
        log.info("team page %s refused (%d): %s", request.match_info.route.resource.canonical
                 if request.match_info.route.resource else request.path, status, message_key)
    t = TEXT[lang_of(request)]
    return _page(request, "team_message.html", status=status, title=t[title_key],
                 message=t[message_key], alert=alert)


async def _form(request: web.Request) -> MultiDictProxy | None:
    """The posted fields if the form came from this page, else None."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    form = await request.post()
    return form if csrf.valid(request, form.get(csrf.FIELD)) else None


def _int(text: str) -> int | None:
    return int(text) if _VALUE.fullmatch(text) else None


# --------------------------------------------------------------- home

async def home(request: web.Request) -> web.StreamResponse:
    db = request.app[DB]
    site_id = request.match_info["site_id"]
    lifecycle.close_expired(db.conn)
    cookie = device(request)
    polls = [dict(p, answered=lifecycle.answered(db, p["id"], cookie))
             for p in lifecycle.open_for_site(db, site_id)]
    return _page(request, "team_home.html", polls=polls,
                 answered_ideas=ideas.latest_answered(db, site_id, lang_of(request)),
                 done=request.query.get("done") == "1")


# --------------------------------------------------------------- polls

def _poll(request: web.Request) -> dict | None:
    """The poll of the address if this site's agents may answer it today."""
    db = request.app[DB]
    text = request.match_info["poll_id"]
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    try:
        poll = lifecycle.get(db, int(text))
    except lifecycle.PollError:
        return None
    site_id = request.match_info["site_id"]
    return poll if lifecycle.accepting(poll, site_id, lifecycle.local_day(db, site_id)) else None


def _question_page(request, poll, step, values, error=None, status=200):
    if error:
        log.info("poll %d answer refused at question %d: %s", poll["id"], step + 1, error)
    question = poll["questions"][step]
    lang = lang_of(request)
    return _page(request, "team_question.html", status=status, poll=poll, step=step,
                 count=len(poll["questions"]), question=question,
                 options=_options(question, lang), values=values, error=error,
                 smileys=SMILEYS[questions.SCALE],
                 action="/team/%s/polls/%d" % (request.match_info["site_id"], poll["id"]),
                 max_text=questions.MAX_TEXT)


def _options(question: dict, lang: str) -> list[str]:
    if question["kind"] == "scale":
        return list(TEXT[lang]["poll_levels"])
    return [c[lang] for c in question["choices"]]


def read_answer(question: dict, raw: str) -> tuple[object, str | None]:
    """(value, error key): a scale or choice index, or a free text ("" allowed)."""
    if question["kind"] == "text":
        text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
        if len(text) > questions.MAX_TEXT:
            return None, "text_long"
        if _CONTROL.search(text):
            return None, "text_chars"
        return text, None
    if raw == "":
        return None, "choose"
    value = _int(raw)
    if value is None or value >= questions.options(question):
        return None, "bad_choice"
    return value, None


async def poll_page(request: web.Request) -> web.StreamResponse:
    poll = _poll(request)
    if poll is None:
        return _message(request, "poll_closed_title", "poll_closed", status=404)
    if lifecycle.answered(request.app[DB], poll["id"], device(request)):
        return _message(request, "poll_answered_title", "poll_answered")
    return _question_page(request, poll, 0, {})


async def poll_post(request: web.Request) -> web.StreamResponse:
    poll = _poll(request)
    if poll is None:
        return _message(request, "poll_closed_title", "poll_closed", status=404)
    form = await _form(request)
    if form is None:
        return _message(request, "bad_title", "csrf", status=403, alert=True)
    qs = poll["questions"]
    step = _int(str(form.get("step", "")))
    if step is None or step >= len(qs):
        return _message(request, "bad_title", "malformed_fields", status=400, alert=True)
    back = bool(form.get("back")) and step > 0
    values: dict[int, object] = {}
    for i in range(step if back else step + 1):  # the answers so far, carried by the form
        value, err = read_answer(qs[i], str(form.get("a%d" % i, "")))
        if err and i < step:
            return _message(request, "bad_title", "malformed_fields", status=400, alert=True)
        if err:
            return _question_page(request, poll, step, values, error=err, status=400)
        values[i] = value
    if back:
        return _question_page(request, poll, step - 1, values)
    if step + 1 < len(qs):
        return _question_page(request, poll, step + 1, values)
    answers = {i: v for i, v in values.items() if qs[i]["kind"] != "text"}
    texts = {i: v for i, v in values.items() if qs[i]["kind"] == "text" and v}
    outcome = lifecycle.store(request.app[DB].conn, poll, request.match_info["site_id"],
                              device(request), {i: int(str(v)) for i, v in answers.items()},
                              {i: str(v) for i, v in texts.items()}, lang_of(request))
    if outcome == lifecycle.ANSWERED:
        return _message(request, "poll_answered_title", "poll_answered", status=409, alert=True)
    if outcome == lifecycle.NOT_OPEN:
        return _message(request, "poll_closed_title", "poll_closed", status=409, alert=True)
    _redirect(request, "/team/%s?%s" % (request.match_info["site_id"],
                                         _query(request, done="1")))


# --------------------------------------------------------------- ideas

async def ideas_page(request: web.Request, error: str | None = None, text: str = "",
                     status: int = 200, posted: bool = False) -> web.StreamResponse:
    db = request.app[DB]
    lang = lang_of(request)
    return _page(request, "team_ideas.html", status=status,
                 ideas=ideas.for_agents(db, request.match_info["site_id"], lang,
                                        device(request)),
                 error=error, text=text, posted=posted or request.query.get("posted") == "1",
                 max_text=ideas.MAX_IDEA, action="/team/%s/ideas" % request.match_info["site_id"])


async def idea_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if form is None:
        return _message(request, "bad_title", "csrf", status=403, alert=True)
    text = str(form.get("idea", ""))
    try:
        ideas.post(request.app[DB], request.match_info["site_id"], text, lang_of(request))
    except ideas.IdeaError as e:
        log.info("idea refused: %s", e.code)
        return await ideas_page(request, error="idea_" + e.code, text=text, status=400)
    _redirect(request, "/team/%s/ideas?%s" % (request.match_info["site_id"],
                                               _query(request, posted="1")))


async def support_post(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    if form is None:
        return _message(request, "bad_title", "csrf", status=403, alert=True)
    idea_id = request.match_info["idea_id"]
    if not idea_id.isascii() or not idea_id.isdigit() or len(idea_id) > 18:
        return _message(request, "bad_title", "malformed_fields", status=400, alert=True)
    ideas.support(request.app[DB].conn, request.match_info["site_id"], int(idea_id),
                  device(request))
    _redirect(request, "/team/%s/ideas?%s#idea-%s" % (request.match_info["site_id"],
                                                       _query(request), idea_id))
