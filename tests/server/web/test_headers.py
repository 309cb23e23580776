"""Security headers on every answer, pages without inline script or style,
cookies `Secure` when the public address is https, and an access log that
never holds a secret, on the real application and a real `borne serve`."""
import asyncio
import re
from http.cookies import SimpleCookie

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server_support import SITE, Client, api_headers, borne, qr_server

PASSWORD = "un mot de passe long"


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie', 'Mairie', 0)")
    _id, key = access.add_link(db, "mairie", "accueil")
    access.add_manager(db, "qualite", PASSWORD)
    return {"path": path, "key": key}


def run(env, scenario, **settings):
    async def main():
        async with TestClient(TestServer(make_app(env["path"], **settings))) as client:
            return await scenario(client)
    return asyncio.run(main())


async def log_in(client):
    page = await (await client.get("/manager/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return await client.post("/manager/login", allow_redirects=False, data={
        "csrf": csrf, "username": "qualite", "password": PASSWORD})


INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.I)


def test_every_answer_has_the_security_headers_and_pages_no_inline_code(env):
    key = env["key"]

    async def scenario(client):
        pages = {}
        for url in ("/screen/mairie?key=" + key, "/screen/bibli?key=" + key,
                    "/manager/login", "/api/v1/sites", "/api/v1/openapi.json", "/nowhere",
                    "/static/screen_style.css", "/static/feedback_form.css", "/healthz"):
            r = await client.get(url)
            pages[url] = (r.status, await r.text())
            h = r.headers
            csp = h["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, url
            assert "script-src 'self'" in csp and "default-src 'none'" in csp, url
            assert h["X-Content-Type-Options"] == "nosniff", url
            assert h["X-Frame-Options"] == "DENY", url
            assert h["Referrer-Policy"] == "no-referrer", url
        assert (await log_in(client)).status == 302
        for url in ("/manager", "/manager/sites/mairie"):
            r = await client.get(url)
            assert r.status == 200 and "Content-Security-Policy" in r.headers
            pages[url] = (r.status, await r.text())
        r = await client.get("/screen/mairie/events", timeout=5)
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        chunk = await r.content.readuntil(b"event: panel")  # the live panel, too
        chunk += await r.content.readuntil(b"\n\n")
        r.close()
        pages["events"] = (200, chunk.decode())
        for url, (_status, text) in pages.items():
            if "html" in text[:200].lower() or url == "events":
                assert not INLINE.search(text), (url, INLINE.search(text))
    run(env, scenario)


def test_the_qr_form_has_no_inline_style_either(tmp_path):
    srv = qr_server(tmp_path)
    try:
        page = Client(srv).get("/f/%s" % srv.token)
        assert page.status == 200
        assert not INLINE.search(page.text)
        assert '<link rel="stylesheet" href="/static/feedback_form.css">' in page.text
        headers = dict((k.lower(), v) for k, v in page.headers)
        assert "unsafe-inline" not in headers["content-security-policy"]
    finally:
        srv.stop()


def test_cookies_are_secure_when_the_public_address_is_https(env):
    def cookies(**settings):
        async def scenario(client):
            jar = SimpleCookie()
            page = await client.get("/manager/login")  # sets the form's cookie
            for value in page.headers.getall("Set-Cookie", []):
                jar.load(value)
            text = await page.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
            r = await client.post("/manager/login", allow_redirects=False, headers={
                "Cookie": "borne_csrf=" + jar["borne_csrf"].value}, data={
                "csrf": csrf, "username": "qualite", "password": PASSWORD})
            assert r.status == 302
            for value in r.headers.getall("Set-Cookie", []):
                jar.load(value)
            return jar
        return run(env, scenario, **settings)

    plain = cookies()
    secure = cookies(public_url="https://avis.example.fr")
    assert not plain[access.SESSION_COOKIE]["secure"] and not plain["borne_csrf"]["secure"]
    assert secure[access.SESSION_COOKIE]["secure"] and secure["borne_csrf"]["secure"]
    for jar in (plain, secure):
        assert jar[access.SESSION_COOKIE]["httponly"] and jar["borne_csrf"]["httponly"]
        assert jar[access.SESSION_COOKIE]["samesite"] == "Strict"
        assert jar["borne_csrf"]["samesite"] == "Lax"


def test_no_secret_reaches_the_access_log(tmp_path):
    srv = qr_server(tmp_path)
    try:
        db = srv.db
        key = borne("screen", "link", "add", SITE, "--json", "--base-url",
                    "http://127.0.0.1:8080", "--db", db).stdout
        key = re.search(r'"key": "([^"]+)"', key).group(1)
        auth = api_headers(db)
        c = Client(srv)
        assert c.get("/screen/%s?key=%s&lang=en" % (SITE, key)).status == 200
        assert c.get("/screen/%s/data.json?key=%s" % (SITE, key)).status == 200
        assert c.get("/f/%s" % srv.token).status == 200
        assert c.get("/f/%s/inconnu" % srv.token).status == 404
        assert c.request("GET", "/api/v1/sites", headers=auth).status == 200
        assert c.get("/manager/login?next=/manager&password=oops").status == 200
        srv.terminate()
        log = srv.log_text()
    finally:
        srv.stop()
    lines = [line for line in log.splitlines() if "aiohttp.access" in line]
    assert len(lines) >= 6, log[-2000:]
    for secret in (key, srv.token, auth["Authorization"].split()[1], "oops"):
        assert secret not in log
    assert any('"GET /screen/%s?key=***&lang=en HTTP/1.1" 200' % SITE in x for x in lines)
    assert any('"GET /f/*** HTTP/1.1" 200' in x for x in lines), lines
    assert any('"GET /f/***/inconnu HTTP/1.1" 404' in x for x in lines), lines
    assert not any("127.0.0.1" in x for x in lines)  # nor the client's address
