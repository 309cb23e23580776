"""Who may use each route, in one table, enforced by one middleware: no
handler checks access itself.

Audiences:
- PUBLIC: anyone (the QR form, health, static files, the login form);
- SITE: a site's figures and screen: that site's screen key (`key=`), a
  logged-in manager or an API token;
- MANAGER: the manager pages: a logged-in manager (others are sent to the
  login page);
- READ: the JSON API's data (raw votes, kiosks, sites, ranking): a logged-in
  manager or an API token of either scope;
- ADMIN: the JSON API's writes: an `admin` API token only (a browser's
  session cookie never writes, so no page elsewhere can make it write).

Answers when refused: under /api/ (and the screen's data.json) JSON, 401
with `WWW-Authenticate: Bearer` without credentials (or with an unknown or
revoked token), 403 with credentials that do not reach the route; the
screen pages answer 403 with a page that says why; the manager pages send
to the login page. A route missing from ROUTES is refused (and a test lists
the app's routes against this table)."""
import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler

from sync_server.storage import tokens
from sync_server.web import access, render
from sync_server.web.api import error
from sync_server.web.i18n import TEXT, lang_of
from sync_server.web.keys import DB

log = logging.getLogger(__name__)

PUBLIC, SITE, MANAGER, READ, ADMIN = "public", "site", "manager", "read", "admin"

# Route (as aiohttp spells its path) -> audience, for every method it has.
ROUTES: dict[str, str] = {
    "/healthz": PUBLIC,
    "/static/{name}": PUBLIC,
    "/f/{token}": PUBLIC,
    "/f/{token}/merci": PUBLIC,
    "/manager/login": PUBLIC,
    "/manager/logout": PUBLIC,  # ends the session its cookie names, if any
    "/api/v1/openapi.json": PUBLIC,
    "/screen/{site_id}": SITE,
    "/screen/{site_id}/events": SITE,
    "/screen/{site_id}/data.json": SITE,
    "/api/v1/sites/{site_id}/satisfaction": SITE,
    "/manager": MANAGER,
    "/manager/ranking.csv": MANAGER,
    "/manager/sites/{site_id}": MANAGER,
    "/manager/firmware": MANAGER,
    "/manager/sites/{site_id}/daily.csv": MANAGER,
    "/api/v1/sites": READ,
    "/api/v1/kiosks": READ,
    "/api/v1/firmware": READ,
    "/api/v1/sites/{site_id}/votes": READ,
    "/api/v1/ranking": READ,
    "/api/v1/sites/{site_id}/screen-links": ADMIN,
    "/api/v1/screen-links/{link_id}": ADMIN,
}

BEARER = "bearer "


def setup(app: web.Application) -> None:
    app.middlewares.append(enforce)


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header ("" if the header is
    there but says nothing usable), else None."""
    value = request.headers.get("Authorization")
    if value is None:
        return None
    if value[:len(BEARER)].lower() != BEARER:
        return ""
    return value[len(BEARER):].strip()


def _refusal(audience: str, request: web.Request) -> tuple[int, str] | None:
    """None if the request may use a route of this audience, else (status,
    reason): 401 without usable credentials, 403 with insufficient ones."""
    if audience == PUBLIC:
        return None
    db = request.app[DB]
    token = bearer(request)
    if token is not None:
        scope = tokens.token_scope(db, token)
        if scope is None:
            return 401, "unknown or revoked API token"
        if audience == MANAGER:
            return 403, "the manager pages need a manager's login, not a token"
        if audience == ADMIN and scope != "admin":
            return 403, "this token may read only"
        return None
    if access.request_manager(request):
        if audience == ADMIN:
            return 403, "writes need an admin API token"
        return None
    if audience == SITE and request.query.get("key"):
        if access.link_ok(db, request.match_info.get("site_id", ""), request.query["key"]):
            return None
        return 403, "this screen key does not open this site"
    if audience == SITE:
        return 401, "log in as a manager, give this site's screen key or an API token"
    if audience == ADMIN:
        return 401, "give an admin API token (Authorization: Bearer)"
    return 401, "log in as a manager or give an API token (Authorization: Bearer)"


def still_allowed(request: web.Request) -> bool:
    """Whether the request's credentials still reach its route (a stream
    asks again while it runs: a link may be revoked, a session end)."""
    return _refusal(audience_of(request) or ADMIN, request) is None


def audience_of(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return ROUTES.get(resource.canonical) if resource is not None else None


def _refused(request: web.Request, audience: str, status: int,
             reason: str) -> web.StreamResponse:
    path = request.path
    if path.startswith("/api/") or path.endswith(".json"):
        resp = error(status, reason)
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="borne"'
        return resp
    if audience == MANAGER and status == 401:
        raise web.HTTPFound("/manager/login?" + urlencode({"next": request.path_qs,
                                                            "lang": lang_of(request)}))
    # Pages: a browser cannot answer a Bearer challenge, so 403 with a page.
    lang = lang_of(request)
    return render.page(request, "screen_message.html", lang, status=403,
                       title=TEXT[lang]["forbidden_title"], message=TEXT[lang]["forbidden"])


@web.middleware
async def enforce(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404 and 405 answer as they are
    audience = audience_of(request)
    if audience is None:
        log.error("route %s has no audience: refused", request.match_info.route)
        return _refused(request, ADMIN, 403, "this route declares no audience")
    refusal = _refusal(audience, request)
    if refusal is not None:
        return _refused(request, audience, *refusal)
    return await handler(request)
