"""Citizen feedback through a QR code: one revocable token per site, the
form at /f/{token} (works without JavaScript, French by default, English on
request), and the answers it stores.

For the screens: `latest_comments(db, site_id, limit)` returns, newest first,
dicts {created_ms, level, scale, topics: [codes], comment} with e-mail
addresses and phone numbers masked by `mask_contacts` (escape before showing).
Each accepted answer also goes to `rollup.apply_votes(..., source="qr")` in the
transaction that stores it.
"""
import logging
import re
import secrets
from urllib.parse import parse_qs

from aiohttp import web

from borne_server import feedback_guard as guard
from borne_server import rollup
from borne_server.app import DB, SETTINGS
from borne_server.feedback_pages import (
    MAX_COMMENT,
    TEXT,
    TOPICS,
    form_page,
    message_page,
    pick_lang,
)
from borne_server.store import transaction

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
LIMITER = web.AppKey("feedback_limiter", guard.AddressLimiter)
DEFAULT_PER_ADDRESS_HOUR = 30

# ---------------------------------------------------------------- tokens


def _site(conn, site_id):
    row = conn.execute("SELECT id, name, buttons FROM sites WHERE id = ?", (site_id,)).fetchone()
    if row is None:
        raise LookupError("unknown site %r" % site_id)
    return row


def current_token(conn, site_id, create=True):
    """The site's active token, creating one if it has none and `create`."""
    _site(conn, site_id)
    row = conn.execute("SELECT token FROM qr_tokens WHERE site_id = ? AND revoked_ms IS NULL "
                       "ORDER BY created_ms DESC LIMIT 1", (site_id,)).fetchone()
    if row:
        return row[0]
    if not create:
        return None
    token = secrets.token_urlsafe(12)
    conn.execute("INSERT INTO qr_tokens (token, site_id, created_ms) VALUES (?, ?, ?)",
                 (token, site_id, guard.now_ms()))
    return token


def revoke_tokens(conn, site_id):
    """Revoke every active token of the site; return how many."""
    _site(conn, site_id)
    cur = conn.execute("UPDATE qr_tokens SET revoked_ms = ? WHERE site_id = ? "
                       "AND revoked_ms IS NULL", (guard.now_ms(), site_id))
    return cur.rowcount


def form_url(base_url, token):
    return base_url.rstrip("/") + "/f/" + token


def site_for_token(conn, token):
    """(site_id, name, buttons) for an active token, else None."""
    return conn.execute(
        "SELECT s.id, s.name, s.buttons FROM qr_tokens t JOIN sites s ON s.id = t.site_id "
        "WHERE t.token = ? AND t.revoked_ms IS NULL", (token,)).fetchone()


# ---------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French numbers (0X XX XX XX XX, +33 X XX XX XX XX, 0033...) with spaces,
# dots or dashes, and any other international number written with a +.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9]|0[1-9])(?:[\s.\-]?\d{2}){4}(?!\d)"
    r"|(?<![\w+])\+\d(?:[\s.\-]?\d){6,14}(?!\d)")
MASKS = {"fr": ("[adresse masquée]", "[numéro masqué]"),
         "en": ("[address hidden]", "[number hidden]")}


def mask_contacts(text, lang="fr"):
    """Replace e-mail addresses and phone numbers in a comment before display."""
    email_mask, phone_mask = MASKS.get(lang, MASKS["fr"])
    return _PHONE.sub(phone_mask, _EMAIL.sub(email_mask, text or ""))


def latest_comments(db, site_id, limit=10):
    conn = getattr(db, "conn", db)
    rows = conn.execute(
        "SELECT created_ms, level, scale, topics, comment FROM qr_answers "
        "WHERE site_id = ? AND comment != '' ORDER BY created_ms DESC, id DESC LIMIT ?",
        (site_id, int(limit))).fetchall()
    return [{"created_ms": r[0], "level": r[1], "scale": r[2],
             "topics": [t for t in r[3].split(",") if t], "comment": mask_contacts(r[4])}
            for r in rows]


# ---------------------------------------------------------------- storing


class OverLimit(Exception):
    pass


def store_answer(conn, site_id, token, scale, answer, limiter, address, at_ms):
    """Insert one validated answer and its rollup; OverLimit if the address
    has used its hourly quota (nothing is stored then)."""
    with transaction(conn):
        if not limiter.take(conn, address, at_ms):
            raise OverLimit()
        conn.execute(
            "INSERT INTO qr_answers (site_id, token, level, scale, topics, comment, lang, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (site_id, token, answer["level"], scale, ",".join(answer["topics"]),
             answer["comment"], answer["lang"], at_ms))
        rollup.apply_votes(conn, [{"site_id": site_id, "utc_ms": at_ms,
                                   "level": answer["level"], "scale": scale, "flags": 0}],
                           source="qr")


# ---------------------------------------------------------------- validation

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class BadRequest(Exception):
    pass


def parse_body(raw):
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


def validate(fields, scale, lang):
    """Return (answer, errors): errors maps field -> message in `lang`."""
    t = TEXT[lang]
    errors = {}
    answer = {"level": None, "topics": [], "comment": "", "lang": lang}
    levels = fields.get("level", [])
    if not levels or levels == [""]:
        errors["level"] = t["level_missing"]
    elif len(levels) != 1 or not levels[0].isdigit() or int(levels[0]) >= scale:
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


def _html(text, status=200, headers=None):
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _not_found(lang, path):
    t = TEXT[lang]
    return _html(message_page(lang, "", "notfound_title", t["notfound"], path), status=404)


def _set_csrf_cookie(request, resp, nonce):
    if request.cookies.get(guard.CSRF_COOKIE) != nonce:
        resp.set_cookie(guard.CSRF_COOKIE, nonce, path="/f/", httponly=True,
                        samesite="Lax", secure=request.secure)


def _render_form(request, site, token, lang, values=None, errors=None, status=200):
    conn = request.app[DB].conn
    nonce = request.cookies.get(guard.CSRF_COOKIE) or guard.new_nonce()
    csrf = guard.csrf_field(guard.csrf_key(conn), nonce, token)
    text = form_page(lang, site[1], site[2], "/f/" + token, csrf, values, errors)
    resp = _html(text, status=status)
    _set_csrf_cookie(request, resp, nonce)
    return resp


def _form_site(handler):
    """Give the handler the form URL's token, language and site row; an
    unknown or revoked token gets the 404 page."""
    async def wrapped(request):
        token = request.match_info["token"]
        lang = pick_lang(request.query.get("lang"))
        site = site_for_token(request.app[DB].conn, token)
        if site is None:
            return _not_found(lang, request.path)
        return await handler(request, token, lang, site)
    return wrapped


@_form_site
async def get_form(request, token, lang, site):
    if guard.device_recent(request.cookies.get(guard.device_cookie_name(site[0]))):
        return _html(message_page(lang, site[1], "again_title", TEXT[lang]["again"],
                                  request.path))
    return _render_form(request, site, token, lang)


@_form_site
async def post_form(request, token, lang, site):
    conn = request.app[DB].conn
    site_id, site_name, scale = site

    def bad(message, why):
        log.info("qr form refused for site %s: %s", site_id, why)
        return _html(message_page(lang, site_name, "bad_title", message, request.path,
                                  alert=True), status=400)

    if (request.content_length or 0) > MAX_BODY:
        return bad(TEXT[lang]["too_large"], "body too large")
    raw = await request.content.read(MAX_BODY + 1)
    try:
        fields = parse_body(raw)
    except BadRequest as e:
        return bad(TEXT[lang][str(e)], "unreadable body (%s)" % e)
    lang = pick_lang((fields.get("lang") or [lang])[0])
    key = guard.csrf_key(conn)
    if not guard.csrf_ok(key, request.cookies.get(guard.CSRF_COOKIE), token,
                         (fields.get("csrf") or [""])[0]):
        return bad(TEXT[lang]["csrf"], "CSRF token missing, expired or not bound to its cookie")
    if guard.device_recent(request.cookies.get(guard.device_cookie_name(site_id))):
        return _html(message_page(lang, site_name, "again_title", TEXT[lang]["again"],
                                  request.path, alert=True), status=429)
    answer, errors = validate(fields, scale, lang)
    if errors:
        log.info("qr form for site %s returned with errors: %s", site_id, ",".join(errors))
        return _render_form(request, site, token, lang, answer, errors, status=400)
    settings = request.app[SETTINGS]
    address = guard.client_address(request, settings.get("trust_proxy", False))
    at_ms = guard.now_ms()
    try:
        store_answer(conn, site_id, token, scale, answer, request.app[LIMITER], address, at_ms)
    except OverLimit:
        log.warning("qr form for site %s: address over its hourly limit", site_id)
        return _html(message_page(lang, site_name, "rate_title", TEXT[lang]["rate"],
                                  request.path, alert=True), status=429)
    resp = web.HTTPSeeOther("/f/%s/merci?lang=%s" % (token, lang))
    resp.set_cookie(guard.device_cookie_name(site_id), str(at_ms), path="/f/",
                    max_age=guard.DEVICE_WINDOW_MS // 1000, httponly=True, samesite="Lax",
                    secure=request.secure)
    return resp


@_form_site
async def thanks(request, token, lang, site):
    return _html(message_page(lang, site[1], "thanks_title", TEXT[lang]["thanks"],
                              "/f/%s/merci" % token))


def setup(app):
    per_hour = int(app[SETTINGS].get("qr_per_address_hour") or DEFAULT_PER_ADDRESS_HOUR)
    app[LIMITER] = guard.AddressLimiter(per_hour)
    app.router.add_get("/f/{token}", get_form)
    app.router.add_post("/f/{token}", post_form)
    app.router.add_get("/f/{token}/merci", thanks)
