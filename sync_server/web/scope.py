"""Which sites a request may see: every site for an API token or a network
operator, one organisation's sites for a manager, its own site for a screen
key or a team link. `audience` refuses a `{site_id}` outside them; list
pages and APIs filter with `visible_sites`; an object of several sites (a
poll, a consultation) is a manager's only if all its sites are
(`may_see_all`)."""
from collections.abc import Iterable

from aiohttp import web

from sync_server.storage import organisations, tokens
from sync_server.web import access
from sync_server.web.keys import DB

BEARER = "bearer "

__all__ = ["bearer", "may_see", "may_see_all", "may_see_org", "visible_orgs", "visible_sites"]


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header ("" if the header is
    there but says nothing usable), else None."""
    value = request.headers.get("Authorization")
    if value is None:
        return None
    if value[:len(BEARER)].lower() != BEARER:
        return ""
    return value[len(BEARER):].strip()


def visible_sites(request: web.Request) -> frozenset[str] | None:
    """The ids of the sites a request's credentials may see, or None for
    every site (an API token, a network operator). A manager: the sites of
    their organisation; a screen key or a team link: its own site; nobody
    else: none.
    List pages and APIs pass it to their queries."""
    db = request.app[DB]
    token = bearer(request)
    if token is not None:
        return None if tokens.token_scope(db, token) is not None else frozenset()
    account = access.request_account(request)
    if account is not None:
        if account.operator:
            return None
        return organisations.org_site_ids(db, account.org_id) if account.org_id else frozenset()
    site_id = request.match_info.get("site_id", "")
    key = request.query.get("key")
    if site_id and (access.link_ok(db, site_id, key) or access.link_ok(db, site_id, key, "team")):
        return frozenset((site_id,))
    return frozenset()


def may_see(request: web.Request, site_id: str) -> bool:
    """Whether the request's credentials may see this site."""
    sites = visible_sites(request)
    return sites is None or site_id in sites


def may_see_all(request: web.Request, site_ids: Iterable[str]) -> bool:
    """Whether the request may see an object that spans these sites (a
    poll, a consultation): every site for an operator or an API token,
    else at least one site and all of them in its scope."""
    sites = visible_sites(request)
    if sites is None:
        return True
    ids = set(site_ids)
    return bool(ids) and ids <= sites


def visible_orgs(request: web.Request) -> frozenset[int] | None:
    """The organisations a request may see: None for every one (an API
    token, a network operator), a manager's own, else none."""
    token = bearer(request)
    if token is not None:
        return None if tokens.token_scope(request.app[DB], token) is not None else frozenset()
    account = access.request_account(request)
    if account is not None:
        if account.operator:
            return None
        return frozenset((account.org_id,)) if account.org_id else frozenset()
    return frozenset()


def may_see_org(request: web.Request, org_id: str | int) -> bool:
    """Whether the request's credentials may see this organisation (an id
    that is not a number is nobody's)."""
    orgs = visible_orgs(request)
    if orgs is None:
        return True
    text = str(org_id)
    return text.isascii() and text.isdigit() and int(text) in orgs
