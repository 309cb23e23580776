"""Who may use each route, in one table, enforced by one middleware: no
handler checks access itself.

Audiences:
- PUBLIC: anyone (the QR form, health, static files, the login form);
- SITE: a site's figures and screen: that site's screen key (`key=`), a
  logged-in manager or an API token;
- TEAM: the agents' pages of one site (polls, idea box): that site's team
  link (`key=`) only, never a manager's session or an API token, so that
  only agents answer;
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
the app's routes against this table).

Organisations: a manager account sees only its organisation's sites; an
operator account and the API tokens see every site. Here, once: a route
whose path names a `{site_id}` outside the caller's sites, or an `{org_id}`
other than the manager's organisation, answers 404 (unknown site); a route
that lists sites filters them with `scope.visible_sites(request)` (or
`scope.may_see(request, site_id)`, `scope.visible_orgs(request)`)."""
import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler

from sync_server.storage import tokens
from sync_server.web import access, render
from sync_server.web.api import error
from sync_server.web.i18n import TEXT, lang_of
from sync_server.web.keys import DB
from sync_server.web.scope import bearer, may_see, may_see_org

log = logging.getLogger(__name__)

PUBLIC, SITE, MANAGER, READ, ADMIN = "public", "site", "manager", "read", "admin"
TEAM = "team"

# Route (as aiohttp spells its path) -> audience, for every method it has.
ROUTES: dict[str, str] = {
    "/healthz": PUBLIC,
    "/static/{name}": PUBLIC,
    "/f/{token}": PUBLIC,
    "/f/{token}/merci": PUBLIC,
    "/c/{token}": PUBLIC,
    "/c/{token}/merci": PUBLIC,
    "/c/{token}/ideas/{idea_id}": PUBLIC,
    "/c/{token}/resultats": PUBLIC,  # says so until the results are public
    "/c/{token}/resultats.{fmt}": PUBLIC,
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
    "/manager/polls": MANAGER,
    "/manager/polls/{poll_id}": MANAGER,
    "/manager/polls/{poll_id}/texts/{text_id}": MANAGER,
    "/manager/ideas": MANAGER,
    "/manager/ideas/{idea_id}": MANAGER,
    "/manager/sites/{site_id}/mirror": MANAGER,
    "/manager/alerts": MANAGER,
    "/manager/alerts/{alert_id}/ack": MANAGER,
    "/manager/consultations": MANAGER,
    "/manager/consultations/new": MANAGER,
    "/manager/consultations/{cid}": MANAGER,
    "/manager/consultations/{cid}/edit": MANAGER,
    "/manager/consultations/{cid}/state": MANAGER,
    "/manager/consultations/{cid}/preview": MANAGER,
    "/manager/consultations/{cid}/ideas": MANAGER,
    "/manager/consultations/{cid}/ideas/{idea_id}": MANAGER,
    "/manager/consultations/{cid}/results.{fmt}": MANAGER,
    "/manager/consultations/{cid}/{what}.{fmt}": MANAGER,
    "/api/v1/sites": READ,
    "/api/v1/kiosks": READ,
    "/api/v1/firmware": READ,
    "/api/v1/sites/{site_id}/votes": READ,
    "/api/v1/ranking": READ,
    "/api/v1/sites/{site_id}/mirror": READ,
    "/api/v1/sites/{site_id}/screen-links": ADMIN,
    "/team/{site_id}": TEAM,
    "/team/{site_id}/polls/{poll_id}": TEAM,
    "/team/{site_id}/ideas": TEAM,
    "/team/{site_id}/ideas/{idea_id}/support": TEAM,
    "/barometer/{year}": PUBLIC,
    "/barometer/{year}/open-data.csv": PUBLIC,
    "/manager/barometer/{year}": MANAGER,
    "/manager/barometer/{year}/orgs/{org_id}": MANAGER,
    "/api/v1/screen-links/{link_id}": ADMIN,
}

def setup(app: web.Application) -> None:
    app.middlewares.append(enforce)


def _refusal(audience: str, request: web.Request) -> tuple[int, str] | None:
    """None if the request may use a route of this audience, else (status,
    reason): 401 without usable credentials, 403 with insufficient ones."""
    if audience == PUBLIC:
        return None
    db = request.app[DB]
    if audience == TEAM:
        key = request.query.get("key")
        if key and access.link_ok(db, request.match_info.get("site_id", ""), key, "team"):
            return None
        return (403, "this team link does not open this site") if key else \
            (401, "the team pages open with the site's team link")
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
    if access.request_account(request):
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


def _out_of_scope(request: web.Request) -> bool:
    site_id = request.match_info.get("site_id")
    if site_id is not None and not may_see(request, site_id):
        return True
    org_id = request.match_info.get("org_id")
    return org_id is not None and not may_see_org(request, org_id)


def still_allowed(request: web.Request) -> bool:
    """Whether the request's credentials still reach its route (a stream
    asks again while it runs: a link may be revoked, a session end, a site
    move to another organisation)."""
    return (_refusal(audience_of(request) or ADMIN, request) is None
            and not _out_of_scope(request))


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
    text = TEXT[lang]["team_forbidden" if audience == TEAM else "forbidden"]
    return render.page(request, "screen_message.html", lang, status=403,
                       title=TEXT[lang]["forbidden_title"], message=text)


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
    if audience != PUBLIC and _out_of_scope(request):
        return _unknown_site(request)
    return await handler(request)


def _unknown_site(request: web.Request) -> web.StreamResponse:
    """The answer to a site of another organisation: the one an unknown site gets."""
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return error(404, "unknown site")
    lang = lang_of(request)
    return render.page(request, "screen_message.html", lang, status=404,
                       title=TEXT[lang]["notfound_title"], message=TEXT[lang]["notfound"])
