"""Manager passwords and the one CSRF scheme, on the real application over
real HTTP and SQLite: argon2 hashes, old PBKDF2 hashes upgraded at login,
hashing off the event loop, and form fields that fit only their own form."""
import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app

PASSWORD = "un mot de passe long"
OLD_PASSWORD = "un ancien mot de passe"
# Written by earlier versions' hash_password(OLD_PASSWORD, salt=00112233...eeff).
OLD_HASH = ("pbkdf2_sha256$200000$00112233445566778899aabbccddeeff"
            "$49879de5f0d2a5195039c16af71dc393d5243923e6a5239fc8f06ab71010a063")


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie', 'Mairie', 0)")
    access.add_manager(db, "qualite", PASSWORD)
    db.conn.execute("INSERT INTO managers (username, password_hash, created_ms)"
                    " VALUES ('ancien', ?, 0)", (OLD_HASH,))
    return path


def stored_hash(path, username):
    return open_db(path).conn.execute("SELECT password_hash FROM managers WHERE username = ?",
                                      (username,)).fetchone()[0]


def run(path, scenario):
    async def main():
        async with TestClient(TestServer(make_app(path))) as client:
            return await scenario(client)
    return asyncio.run(main())


async def csrf_of(client, url):
    page = await (await client.get(url)).text()
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def log_in(client, username, password):
    token = await csrf_of(client, "/manager/login")
    return await client.post("/manager/login", allow_redirects=False, data={
        "csrf": token, "username": username, "password": password})


def test_new_passwords_are_argon2(db_path):
    assert stored_hash(db_path, "qualite").startswith("$argon2id$")


def test_an_old_pbkdf2_hash_logs_in_and_is_upgraded_to_argon2(db_path):
    async def scenario(client):
        assert (await log_in(client, "ancien", "not the password")).status == 401
        assert stored_hash(db_path, "ancien") == OLD_HASH  # a failure changes nothing
        assert (await log_in(client, "ancien", OLD_PASSWORD)).status == 302
        upgraded = stored_hash(db_path, "ancien")
        assert upgraded.startswith("$argon2id$")
        assert access.PASSWORDS.verify(OLD_PASSWORD, upgraded)
        # the same password still opens the view, now through the new hash
        client.session.cookie_jar.clear()
        assert (await log_in(client, "ancien", OLD_PASSWORD)).status == 302
        assert stored_hash(db_path, "ancien") == upgraded
    run(db_path, scenario)


def test_password_hashing_leaves_the_event_loop_free(db_path):
    """Twenty wrong logins hash at once; /healthz, asked after them, is
    answered before they all are: the hashing runs in worker threads."""
    async def scenario(client):
        token = await csrf_of(client, "/manager/login")
        done = []

        async def wrong_login(i):
            r = await client.post("/manager/login", data={
                "csrf": token, "username": "qualite", "password": "wrong %d" % i})
            assert r.status in (401, 429)  # 429: this account's delays have begun
            done.append("login")

        async def health():
            await asyncio.sleep(0.01)  # let the logins reach the server first
            r = await client.get("/healthz")
            assert r.status == 200
            done.append("healthz")

        await asyncio.gather(*[wrong_login(i) for i in range(20)], health())
        assert done.index("healthz") < len(done) - 1, done
    run(db_path, scenario)


def test_a_csrf_field_fits_only_its_own_form_and_browser(db_path):
    async def scenario(client):
        login_field = await csrf_of(client, "/manager/login")
        # the login form's field does not log out, nor does a forged one log in
        assert (await log_in(client, "qualite", PASSWORD)).status == 302
        r = await client.post("/manager/logout", data={"csrf": login_field},
                              allow_redirects=False)
        assert r.status == 403
        forged = login_field[:-2] + ("00" if not login_field.endswith("00") else "11")
        client.session.cookie_jar.clear()
        token = await csrf_of(client, "/manager/login")
        r = await client.post("/manager/login", data={
            "csrf": forged, "username": "qualite", "password": PASSWORD})
        assert r.status == 403
        # a field from this browser is refused to a browser with another cookie
        async with TestClient(TestServer(make_app(db_path))) as other:
            await csrf_of(other, "/manager/login")
            r = await other.post("/manager/login", data={
                "csrf": token, "username": "qualite", "password": PASSWORD})
            assert r.status == 403 and "expiré" in await r.text()
    run(db_path, scenario)
