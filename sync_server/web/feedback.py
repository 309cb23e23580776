"""The QR form at /f/{token}: works without JavaScript, French by default,
English on request; the answers go through `sync_server.feedback.answers`."""
import logging
import re
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from sync_server.feedback import guard
from sync_server.feedback.answers import ANSWERED, OVER_BUDGET, site_for_token, store_answer
from sync_server.web import access, csrf, render
from sync_server.web.i18n import TEXT, pick_lang
from sync_server.web.keys import DB, SETTINGS

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
LIMITER = web.AppKey("feedback_limiter", guard.AddressLimiter)
REFUSED = web.AppKey("feedback_refused", dict)  # reason -> posts refused since start
DEFAULT_PER_ADDRESS_HOUR = 300
MAX_COMMENT = 1000
TOPICS = ("accueil", "attente", "information", "accessibilite", "courtoisie", "efficacite")
# Emoji per level for 2, 3 and 4 buttons, least satisfied first, as on the kiosks.
SMILEYS = {2: ("\U0001F61E", "\U0001F60A"),
           3: ("\U0001F61E", "\U0001F610", "\U0001F60A"),
           4: ("\U0001F620", "\U0001F61E", "\U0001F60A", "\U0001F604")}

# ---------------------------------------------------------------- validation

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LEVEL = re.compile(r"[0-9]{1,3}")  # ASCII digits only: "³" and "①" are digits to str.isdigit


class BadRequest(Exception):
    pass


def parse_body(raw: bytes) -> dict[str, list[str]]:
    if len(raw) > MAX_BODY:
        raise BadRequest("too_large")
    try:
        text = raw.decode("utf-8")
        return parse_qs(text, keep_blank_values=True, strict_parsing=False,
                        errors="strict", max_num_fields=32)
    except UnicodeDecodeError:
        raise BadRequest("malformed_utf8") from None
    except ValueError:
        raise BadRequest("malformed_fields") from None


def validate(fields: dict[str, list[str]], scale: int,
             lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (answer, errors): errors maps field -> message in `lang`."""
    t = TEXT[lang]
    errors = {}
    answer: dict[str, Any] = {"level": None, "topics": [], "comment": "", "lang": lang}
    levels = fields.get("level", [])
    if not levels or levels == [""]:
        errors["level"] = t["level_missing"]
    elif len(levels) != 1 or not _LEVEL.fullmatch(levels[0]) or int(levels[0]) >= scale:
        errors["level"] = t["level_bad"]
    else:
        answer["level"] = int(levels[0])
    topics = fields.get("topics", [])
    if any(x not in TOPICS for x in topics):
        errors["topics"] = t["topic_bad"]
    answer["topics"] = [x for x in TOPICS if x in topics]
    comments = fields.get("comment", [""])
    comment = "\n".join(comments).replace("\r\n", "\n").replace("\r", "\n").strip()
    answer["comment"] = comment
    if len(comment) > MAX_COMMENT:
        errors["comment"] = t["comment_long"] % len(comment)
    elif _CONTROL.search(comment):
        errors["comment"] = t["comment_chars"]
    return answer, errors


# ---------------------------------------------------------------- pages


def _message(request, lang, site_name, title_key, message_key, status=200, alert=False):
    """A page of the QR form that only says something (thanks, refusals)."""
    t = TEXT[lang]
    return render.page(request, "feedback_message.html", lang, status=status,
                       switch_keep=(), site_name=site_name, title=t[title_key],
                       message=t[message_key], alert=alert)


def _render_form(request, site, token, lang, values=None, errors=None, status=200):
    """The form; after a refused answer, with what was typed and what is wrong,
    in a summary announced by screen readers and next to each field."""
    return render.page(
        request, "feedback_form.html", lang, status=status, switch_keep=(),
        site_name=site[1], scale=site[2], smileys=SMILEYS[site[2]], topics=TOPICS,
        action="/f/" + token, values=values or {"level": None, "topics": [], "comment": ""},
        errors=errors or {}, max_comment=MAX_COMMENT,
        anchors={"level": "level-0", "topics": "topic-" + TOPICS[0]})


def _form_site(handler):
    """Give the handler the form URL's token, language and site row; an
    unknown or revoked token gets the 404 page."""
    async def wrapped(request):
        token = request.match_info["token"]
        lang = pick_lang(request.query.get("lang"))
        site = site_for_token(request.app[DB].conn, token)
        if site is None:
            return _message(request, lang, "", "qr_notfound_title", "qr_notfound", status=404)
        return await handler(request, token, lang, site)
    return wrapped


@_form_site
async def get_form(request: web.Request, token: str, lang: str, site: tuple) -> web.Response:
    if guard.device_recent(request.cookies.get(guard.device_cookie_name(site[0]))):
        return _message(request, lang, site[1], "again_title", "again")
    return _render_form(request, site, token, lang)


@_form_site
async def post_form(request: web.Request, token: str, lang: str,
                    site: tuple) -> web.StreamResponse:
    conn = request.app[DB].conn
    site_id, site_name, scale = site

    refused = request.app[REFUSED]

    def refuse(reason, why):
        """Count and log a refused post (never its address)."""
        refused[reason] = refused.get(reason, 0) + 1
        log.info("qr form refused for site %s: %s", site_id, why)

    def bad(message_key, why, reason):
        refuse(reason, why)
        return _message(request, lang, site_name, "bad_title", message_key, status=400,
                        alert=True)

    if (request.content_length or 0) > MAX_BODY:
        return bad("too_large", "body too large", "too_large")
    raw = await request.content.read(MAX_BODY + 1)
    try:
        fields = parse_body(raw)
    except BadRequest as e:
        return bad(str(e), "unreadable body (%s)" % e, str(e))
    lang = pick_lang((fields.get("lang") or [lang])[0])
    form = (fields.get(csrf.FIELD) or [""])[0]
    if not csrf.valid(request, form):
        return bad("csrf", "CSRF token missing, expired or not bound to its cookie", "csrf")
    if guard.device_recent(request.cookies.get(guard.device_cookie_name(site_id))):
        refuse("device", "this browser answered less than an hour ago")
        return _message(request, lang, site_name, "again_title", "again", status=429,
                        alert=True)
    answer, errors = validate(fields, scale, lang)
    if errors:
        refuse("invalid", "returned with errors: " + ",".join(errors))
        return _render_form(request, site, token, lang, answer, errors, status=400)
    settings = request.app[SETTINGS]
    address = guard.client_address(request, settings.get("trust_proxy", False))
    at_ms = guard.now_ms()
    # The CSRF field is the form's single-use nonce: made for this browser
    # and this form when the page was shown, kept as answered until it
    # would have expired anyway.
    outcome = store_answer(conn, site_id, token, scale, answer, request.app[LIMITER], address,
                           at_ms, form, at_ms + csrf.MAX_AGE_MS)
    if outcome == ANSWERED:
        refuse("answered", "the form was answered already (a replay)")
        return _message(request, lang, site_name, "again_title", "answered", status=409,
                        alert=True)
    if outcome == OVER_BUDGET:
        refuse("over_budget", "address out of budget")
        return _message(request, lang, site_name, "qr_rate_title", "qr_rate", status=429,
                        alert=True)
    resp = web.HTTPSeeOther("/f/%s/merci?lang=%s" % (token, lang))
    resp.set_cookie(guard.device_cookie_name(site_id), str(at_ms), path="/f/",
                    max_age=guard.DEVICE_WINDOW_MS // 1000, httponly=True, samesite="Lax",
                    secure=access.secure_cookies(request))
    return resp


@_form_site
async def thanks(request: web.Request, token: str, lang: str, site: tuple) -> web.Response:
    return _message(request, lang, site[1], "thanks_title", "thanks")


def setup(app: web.Application) -> None:
    per_hour = int(app[SETTINGS].get("qr_per_address_hour") or DEFAULT_PER_ADDRESS_HOUR)
    app[LIMITER] = guard.AddressLimiter(per_hour)
    app[REFUSED] = {}
    app.router.add_get("/f/{token}", get_form)
    app.router.add_post("/f/{token}", post_form)
    app.router.add_get("/f/{token}/merci", thanks)
