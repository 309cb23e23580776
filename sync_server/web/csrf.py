"""One protection against cross-site form posts, for every form (the QR form,
the manager's login and logout).

A signed double submit: the browser holds a random nonce in an HttpOnly
cookie; every form carries a hidden field `issued.HMAC(key, nonce|action|
issued)`. A POST is accepted only if its field was made for this browser's
nonce, for the path the form posts to, less than MAX_AGE_MS ago. A page on
another site can neither read the cookie nor compute the field; a field
copied from another browser or another form does not match. The key is made
once and kept in the database, so forms survive a restart."""
import hashlib
import hmac
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler
from markupsafe import Markup, escape

from sync_server.storage.connection import now_ms, raw_conn, setting_once
from sync_server.web.access import secure_cookies
from sync_server.web.keys import DB

COOKIE = "borne_csrf"
FIELD = "csrf"
MAX_AGE_MS = 4 * 3600 * 1000
KEY = web.AppKey("csrf_key", bytes)
_NEW_NONCE = web.RequestKey("csrf_new_nonce", str)  # a nonce to send as a cookie


def setup(app: web.Application) -> None:
    key = setting_once(raw_conn(app[DB]), "csrf_key", lambda: secrets.token_hex(32))
    app[KEY] = key.encode()
    app.middlewares.append(set_cookie)


def _sign(key: bytes, nonce: str, action: str, issued_ms: int) -> str:
    msg = ("%s|%s|%d" % (nonce, action, issued_ms)).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _nonce(request: web.Request) -> str:
    nonce = request.get(_NEW_NONCE) or request.cookies.get(COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = request[_NEW_NONCE] = secrets.token_urlsafe(18)
    return nonce


def token(request: web.Request, action: str) -> str:
    """The hidden field's value for a form that posts to the path `action`."""
    issued = now_ms()
    return "%d.%s" % (issued, _sign(request.app[KEY], _nonce(request), action, issued))


def hidden_input(request: web.Request, action: str) -> Markup:
    """The form's hidden field, for templates."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (
        FIELD, escape(token(request, action)))


def valid(request: web.Request, value: object, action: str | None = None) -> bool:
    """Whether a posted field was made for this browser and this path (the
    request's own path unless `action` says otherwise)."""
    nonce = request.cookies.get(COOKIE)
    if not nonce or not isinstance(value, str) or "." not in value:
        return False
    issued, _, mac = value.partition(".")
    if not (issued.isascii() and issued.isdigit()) or not 0 <= now_ms() - int(issued) <= MAX_AGE_MS:
        return False
    return hmac.compare_digest(mac, _sign(request.app[KEY], nonce, action or request.path,
                                          int(issued)))


@web.middleware
async def set_cookie(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Send the nonce cookie when a page made a form for a browser without one."""
    resp = await handler(request)
    nonce = request.get(_NEW_NONCE)
    if nonce and isinstance(resp, web.StreamResponse) and not resp.prepared:
        resp.set_cookie(COOKIE, nonce, path="/", httponly=True, samesite="Lax",
                        secure=secure_cookies(request))
    return resp
