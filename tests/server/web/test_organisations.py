"""Organisations: a manager sees only the sites of their organisation, on
every page, API and CSV (the routes are read from the application, so a new
route is covered), an operator sees every site; the command line; and a
database made before organisations opens with its managers as operators."""
import asyncio
import datetime
import io
import json
import re
import sqlite3

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.barometer import editions
from sync_server.barometer.compute import compute
from sync_server.commands import cli
from sync_server.storage import organisations, registry, rollup, tokens
from sync_server.storage.connection import connect, open_db, split_sql, transaction
from sync_server.storage.schema import MIGRATIONS
from sync_server.web import access, audience
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

YEAR = datetime.date.today().year
HIDDEN, HIDDEN_NAME = "alpha-hall", "Alpha Hidden Hall"
UNOWNED = "unowned-hall"
OWN, OWN_NAME = "beta-lib", "Beta Reading Room"
# Routes that list sites: an operator finds the hidden site in each.
LISTS = ("/manager", "/manager/ranking.csv", "/api/v1/sites", "/api/v1/kiosks",
         "/api/v1/ranking")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    path = tmp_path_factory.mktemp("orgs") / "borne.db"
    db = open_db(path)
    alpha = organisations.add_org(db, "Alpha", "commune", 5000)
    beta = organisations.add_org(db, "Beta", "library")
    today = datetime.date.today()
    for sid, name, org in ((HIDDEN, HIDDEN_NAME, alpha), (OWN, OWN_NAME, beta)):
        registry.add_site(db.conn, sid, name)
        organisations.set_site_org(db, sid, org)
        registry.add_kiosk(db.conn, sid)
        with transaction(db.conn):
            rollup.apply_votes(db.conn, [dict(site_id=sid, utc_ms=int(
                datetime.datetime.combine(today, datetime.time(12)).timestamp() * 1000),
                level=3, scale=4, flags=0)] * 12)
        access.add_link(db, sid, "accueil")
    registry.add_site(db.conn, UNOWNED, "Nobody's Hall")  # no organisation yet
    editions.add(db, YEAR)
    for org in (alpha, beta):
        editions.register(db, YEAR, org)
    compute(db, YEAR)
    access.add_manager(db, "beta-mgr", PASSWORD, beta)
    access.add_manager(db, "network", PASSWORD)
    return {"path": path, "db": db, "read": tokens.add_token(db, "read")[1], "alpha": alpha}


def run(env, scenario):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            return await scenario(client)
    return asyncio.run(main())


def guarded_routes(app, alpha=1):
    """(method, url, names a site or an organisation) of every route but the
    public ones, its parameters filled in: the hidden site, its organisation,
    this year's edition, else 1."""
    values = {"site_id": HIDDEN, "org_id": str(alpha), "year": str(YEAR)}
    out = []
    for route in app.router.routes():
        canonical = route.resource.canonical
        if route.method == "HEAD" or audience.ROUTES.get(canonical) == audience.PUBLIC:
            continue
        url = re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), "1"), canonical)
        out.append((route.method, url, "{site_id}" in canonical or "{org_id}" in canonical))
    return out


async def fetch(client, method, url, headers=None):
    """(status, body) of a request; a stream is read no further than its head."""
    r = await client.request(method, url, allow_redirects=False, headers=headers)
    try:
        if r.content_type == "text/event-stream":
            return r.status, ""
        return r.status, await r.text()
    finally:
        r.close()


def test_a_manager_reads_nothing_of_another_organisation(env):
    routes = guarded_routes(make_app(env["path"]), env["alpha"])
    assert {url for _m, url, _s in routes} >= set(LISTS)

    async def scenario(client):
        await log_in(client, "beta-mgr")
        for method, url, names_site in routes:
            status, body = await fetch(client, method, url)
            assert HIDDEN not in body and HIDDEN_NAME not in body, (method, url)
            if names_site:
                assert status in (403, 404), (method, url, status)
        for url in LISTS:  # their own site is there, not a site of no organisation
            status, body = await fetch(client, "GET", url)
            assert status == 200 and OWN in body and UNOWNED not in body, url
        status, _ = await fetch(client, "GET", "/manager/sites/%s" % OWN)
        assert status == 200
    run(env, scenario)


def test_an_operator_and_an_api_token_see_every_organisation(env):
    routes = guarded_routes(make_app(env["path"]), env["alpha"])

    async def scenario(client):
        await log_in(client, "network")
        for method, url, names_site in routes:
            if method != "GET":
                continue
            status, body = await fetch(client, method, url)
            if names_site:
                assert status == 200, url
            if url in LISTS:
                assert status == 200 and HIDDEN in body and OWN in body, url
                assert UNOWNED in body or url == "/api/v1/kiosks", url  # it has no kiosk
        headers = {"Authorization": "Bearer " + env["read"]}
        for url in ("/api/v1/sites", "/api/v1/ranking", "/api/v1/sites/%s/votes" % HIDDEN):
            status, body = await fetch(client, "GET", url, headers)
            assert status == 200 and HIDDEN in body, url
    run(env, scenario)


def test_a_manager_without_an_organisation_sees_no_site(env):
    """A manager whose organisation row is missing sees nothing (never everything)."""
    db = env["db"]
    access.add_manager(db, "orphan", PASSWORD, 1)
    db.conn.execute("UPDATE managers SET org_id = NULL WHERE username = 'orphan'")

    async def scenario(client):
        await log_in(client, "orphan")
        for url in LISTS:
            status, body = await fetch(client, "GET", url)
            assert status == 200 and HIDDEN not in body and OWN not in body, url
        status, _ = await fetch(client, "GET", "/manager/sites/%s" % OWN)
        assert status == 404
    run(env, scenario)


class Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def test_organisations_on_the_command_line(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "b.db")

    def borne(*argv, stdin=""):
        """The `borne` command, in this process (its start-up is what costs)."""
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = cli.main(list(argv))
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return Run(code, out.out, out.err)
    assert borne("site", "add", "mairie", "--name", "Mairie", "--db", db).returncode == 0
    # No organisation yet: a manager account is an operator, as before.
    assert borne("manager", "add", "ancien", "--password-stdin", "--db", db,
                 stdin=PASSWORD + "\n").returncode == 0
    out = borne("org", "add", "Villeneuve", "--type", "commune", "--db", db)
    assert out.returncode == 2 and "population" in out.stderr
    assert borne("org", "add", "Villeneuve", "--type", "commune", "--population", "12500",
                 "--db", db).returncode == 0
    assert borne("org", "add", "Médiathèque", "--type", "library", "--db", db).returncode == 0
    out = borne("org", "add", "X", "--type", "castle", "--db", db)
    assert out.returncode == 2 and "invalid choice" in out.stderr
    assert borne("site", "set", "mairie", "--org", "Villeneuve", "--db", db).returncode == 0
    assert borne("site", "add", "media", "--name", "Médiathèque", "--org", "Médiathèque",
                 "--db", db).returncode == 0
    out = borne("site", "add", "autre", "--name", "Autre", "--org", "Nulle part", "--db", db)
    assert out.returncode == 2 and "unknown organisation" in out.stderr
    assert "autre" not in borne("site", "list", "--db", db).stdout
    orgs = {r["name"]: r for r in json.loads(borne("org", "list", "--json", "--db", db).stdout)}
    assert (orgs["Villeneuve"]["band"], orgs["Villeneuve"]["sites"]) == ("10000-49999", 1)
    assert (orgs["Médiathèque"]["band"], orgs["Médiathèque"]["sites"]) == (None, 1)
    # Once organisations exist, a new account must say whose sites it sees.
    out = borne("manager", "add", "flou", "--password-stdin", "--db", db, stdin=PASSWORD + "\n")
    assert out.returncode == 2 and "--org" in out.stderr and "--operator" in out.stderr
    for argv in (("local", "--org", "Villeneuve"), ("reseau", "--operator")):
        assert borne("manager", "add", *argv, "--password-stdin", "--db", db,
                     stdin=PASSWORD + "\n").returncode == 0
    rows = {r["username"]: r for r in json.loads(
        borne("manager", "list", "--json", "--db", db).stdout)}
    assert (rows["local"]["role"], rows["local"]["organisation"]) == ("manager", "Villeneuve")
    assert (rows["reseau"]["role"], rows["ancien"]["role"]) == ("operator", "operator")
    assert "flou" not in rows
    conn = connect(db)
    vil = organisations.org_id(conn, "Villeneuve")
    assert organisations.org_site_ids(conn, vil) == {"mairie"}


def test_managers_of_an_older_database_become_operators(tmp_path):
    """Before organisations every manager saw every site: they still do."""
    path = tmp_path / "old.db"
    upto = next(i for i, m in enumerate(MIGRATIONS) if m[1].startswith("organisations:"))
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _name, script in MIGRATIONS[:upto]:
        for statement in split_sql(script):
            conn.execute(statement)
        conn.execute("PRAGMA user_version=%d" % version)
    conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie', 'Mairie', 0)")
    conn.execute("INSERT INTO managers (username, password_hash, created_ms)"
                 " VALUES ('qualite', 'x', 0)")
    conn.close()
    conn = connect(path)
    assert [(r["username"], r["role"], r["organisation"])
            for r in access.list_managers(conn)] == [("qualite", "operator", None)]
    assert registry.get_site(conn, "mairie")["org_id"] is None
