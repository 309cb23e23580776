"""Access control: every route of the application declares its audience in
`audience.ROUTES`, and each audience is enforced, on the real application
over real HTTP and SQLite."""
import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage import tokens
from sync_server.storage.connection import open_db
from sync_server.web import access, audience
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    for sid in ("mairie", "bibli"):
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)", (sid, sid))
    _id, key = access.add_link(db, "mairie", "accueil")
    access.add_manager(db, "qualite", PASSWORD)
    read_id, read = tokens.add_token(db, "read")
    _id, admin = tokens.add_token(db, "admin")
    return {"path": path, "db": db, "key": key, "read": read, "read_id": read_id,
            "admin": admin}


def run(env, scenario):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            return await scenario(client)
    return asyncio.run(main())


def bearer(token):
    return {"Authorization": "Bearer " + token}


# One address per route of every audience but PUBLIC, with the method it answers.
SAMPLES = {
    "/screen/{site_id}": ("GET", "/screen/mairie"),
    "/screen/{site_id}/events": ("GET", "/screen/mairie/events"),
    "/screen/{site_id}/data.json": ("GET", "/screen/mairie/data.json"),
    "/api/v1/sites/{site_id}/satisfaction": ("GET", "/api/v1/sites/mairie/satisfaction"),
    "/manager": ("GET", "/manager"),
    "/manager/ranking.csv": ("GET", "/manager/ranking.csv"),
    "/manager/sites/{site_id}": ("GET", "/manager/sites/mairie"),
    "/manager/sites/{site_id}/daily.csv": ("GET", "/manager/sites/mairie/daily.csv"),
    "/manager/alerts": ("GET", "/manager/alerts"),
    "/manager/alerts/{alert_id}/ack": ("POST", "/manager/alerts/1/ack"),
    "/manager/consultations": ("GET", "/manager/consultations"),
    "/manager/consultations/new": ("POST", "/manager/consultations/new"),
    "/manager/consultations/{cid}": ("POST", "/manager/consultations/1"),
    "/manager/consultations/{cid}/edit": ("GET", "/manager/consultations/1/edit"),
    "/manager/consultations/{cid}/state": ("POST", "/manager/consultations/1/state"),
    "/manager/consultations/{cid}/preview": ("GET", "/manager/consultations/1/preview"),
    "/manager/consultations/{cid}/ideas": ("GET", "/manager/consultations/1/ideas"),
    "/manager/consultations/{cid}/ideas/{idea_id}": ("POST",
                                                     "/manager/consultations/1/ideas/1"),
    "/manager/consultations/{cid}/results.{fmt}": ("GET",
                                                   "/manager/consultations/1/results.csv"),
    "/manager/consultations/{cid}/{what}.{fmt}": ("GET", "/manager/consultations/1/card.pdf"),
    "/api/v1/sites": ("GET", "/api/v1/sites"),
    "/api/v1/kiosks": ("GET", "/api/v1/kiosks"),
    "/api/v1/firmware": ("GET", "/api/v1/firmware"),
    "/manager/firmware": ("GET", "/manager/firmware"),
    "/api/v1/sites/{site_id}/votes": ("GET", "/api/v1/sites/mairie/votes"),
    "/api/v1/ranking": ("GET", "/api/v1/ranking"),
    "/api/v1/sites/{site_id}/screen-links": ("POST", "/api/v1/sites/mairie/screen-links"),
    "/api/v1/screen-links/{link_id}": ("DELETE", "/api/v1/screen-links/1"),
    "/team/{site_id}": ("GET", "/team/mairie"),
    "/manager/polls": ("GET", "/manager/polls"),
    "/manager/polls/{poll_id}": ("GET", "/manager/polls/1"),
    "/manager/polls/{poll_id}/texts/{text_id}": ("POST", "/manager/polls/1/texts/1"),
    "/manager/ideas": ("GET", "/manager/ideas"),
    "/manager/ideas/{idea_id}": ("POST", "/manager/ideas/1"),
    "/manager/sites/{site_id}/mirror": ("GET", "/manager/sites/mairie/mirror"),
    "/api/v1/sites/{site_id}/mirror": ("GET", "/api/v1/sites/mairie/mirror"),
    "/team/{site_id}/polls/{poll_id}": ("POST", "/team/mairie/polls/1"),
    "/team/{site_id}/ideas": ("POST", "/team/mairie/ideas"),
    "/team/{site_id}/ideas/{idea_id}/support": ("POST", "/team/mairie/ideas/1/support"),
    "/manager/barometer/{year}": ("GET", "/manager/barometer/2026"),
    "/manager/barometer/{year}/orgs/{org_id}": ("GET", "/manager/barometer/2026/orgs/1"),
}


def test_every_route_declares_its_audience(tmp_path):
    app = make_app(tmp_path / "b.db")
    routes = {r.resource.canonical for r in app.router.routes()}
    assert routes - set(audience.ROUTES) == set(), "routes without an audience"
    assert set(audience.ROUTES) - routes == set(), "audiences of routes that do not exist"
    guarded = {path for path, who in audience.ROUTES.items() if who != audience.PUBLIC}
    assert guarded == set(SAMPLES)  # each is tried anonymously below
    # Raw votes, kiosk health and site settings are not public.
    for path in ("/api/v1/sites/{site_id}/votes", "/api/v1/kiosks", "/api/v1/sites"):
        assert audience.ROUTES[path] == audience.READ


def test_anonymous_callers_get_only_the_public_routes(env):
    async def scenario(client):
        for path, (method, url) in SAMPLES.items():
            r = await client.request(method, url, allow_redirects=False)
            who = audience.ROUTES[path]
            if url.startswith("/api/") or url.endswith(".json"):
                assert r.status == 401, url
                assert r.headers["WWW-Authenticate"].startswith("Bearer"), url
                assert (await r.json())["error"]["status"] == 401
            elif who == audience.MANAGER:
                assert r.status == 302 and r.headers["Location"].startswith(
                    "/manager/login?"), url
            else:
                assert r.status == 403 and "Accès refusé" in await r.text(), url
        for url in ("/healthz", "/api/v1/openapi.json", "/manager/login",
                    "/static/screen_style.css"):
            assert (await client.get(url)).status == 200, url
    run(env, scenario)


def test_a_screen_key_opens_its_own_site_and_its_figures_only(env):
    key = env["key"]

    async def scenario(client):
        for url in ("/screen/mairie", "/screen/mairie/data.json",
                    "/api/v1/sites/mairie/satisfaction"):
            assert (await client.get(url + "?key=" + key)).status == 200, url
        for url in ("/screen/bibli", "/screen/bibli/data.json",
                    "/api/v1/sites/bibli/satisfaction"):
            assert (await client.get(url + "?key=" + key)).status == 403, url
        # Not the raw votes, nor the lists, nor the manager pages.
        for url in ("/api/v1/sites/mairie/votes", "/api/v1/kiosks", "/api/v1/sites",
                    "/api/v1/ranking"):
            assert (await client.get(url + "?key=" + key)).status == 401, url
        r = await client.get("/manager/sites/mairie?key=" + key, allow_redirects=False)
        assert r.status == 302
    run(env, scenario)


def test_tokens_read_and_admin_and_revoked(env):
    async def scenario(client):
        read, admin = bearer(env["read"]), bearer(env["admin"])
        for url in ("/api/v1/sites", "/api/v1/kiosks", "/api/v1/sites/mairie/votes",
                    "/api/v1/ranking", "/api/v1/sites/bibli/satisfaction",
                    "/screen/bibli/data.json"):
            assert (await client.get(url, headers=read)).status == 200, url
        # A read token cannot write; an admin token can.
        r = await client.post("/api/v1/sites/bibli/screen-links", headers=read)
        assert r.status == 403 and "read only" in (await r.json())["error"]["message"]
        r = await client.post("/api/v1/sites/bibli/screen-links?label=hall", headers=admin)
        assert r.status == 201
        link = await r.json()
        assert (await client.get(link["path"])).status == 200  # the new key opens the screen
        r = await client.delete("/api/v1/screen-links/%d" % link["id"], headers=read)
        assert r.status == 403
        r = await client.delete("/api/v1/screen-links/%d" % link["id"], headers=admin)
        assert r.status == 200
        assert (await client.get(link["path"])).status == 403
        r = await client.delete("/api/v1/screen-links/%d" % link["id"], headers=admin)
        assert r.status == 404
        # Tokens never open the manager pages (they are for browsers).
        r = await client.get("/manager", headers=admin, allow_redirects=False)
        assert r.status == 403
        # Unknown, malformed and revoked tokens are refused.
        for headers in (bearer("borne_nope"), {"Authorization": "Basic eDp5"},
                        bearer("x" * 500)):
            assert (await client.get("/api/v1/sites", headers=headers)).status == 401
        tokens.revoke_token(env["db"], env["read_id"])
        r = await client.get("/api/v1/sites", headers=read)
        assert r.status == 401 and "revoked" in (await r.json())["error"]["message"]
    run(env, scenario)


def test_a_manager_session_reads_but_never_writes(env):
    async def scenario(client):
        await log_in(client)
        for url in ("/api/v1/sites", "/api/v1/sites/mairie/votes", "/screen/bibli",
                    "/manager/sites/bibli"):
            assert (await client.get(url)).status == 200, url
        r = await client.post("/api/v1/sites/bibli/screen-links")
        assert r.status == 403 and "admin API token" in (await r.json())["error"]["message"]
    run(env, scenario)


def test_a_route_without_an_audience_is_refused(env):
    async def scenario(client):
        r = await client.get("/api/v1/undeclared")
        assert r.status == 403 and "declares no audience" in (await r.json())["error"]["message"]

    async def main():
        app = make_app(env["path"])

        async def handler(request):
            raise AssertionError("reached a route that declares no audience")
        app.router.add_get("/api/v1/undeclared", handler)
        async with TestClient(TestServer(app)) as client:
            await scenario(client)
    asyncio.run(main())
