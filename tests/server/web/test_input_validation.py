"""No 500 from input: every parameter of the API and the pages is checked
and a bad one answered 400 with what is wrong; a method a route does not
have is 405 with Allow; and Schemathesis, run against the OpenAPI document
served by a real `borne serve`, finds no server error and no status the
document does not declare."""
import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage import tokens
from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in
from tests.server_support import Server, api_headers, make_registry

SCHEMATHESIS = os.path.join(os.path.dirname(sys.executable), "schemathesis")


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "borne.db"
    make_registry(path, 1, site="mairie")
    db = open_db(path)
    access.add_manager(db, "qualite", PASSWORD)
    return {"path": path, "read": tokens.add_token(db, "read")[1]}


def run(env, scenario, token=True):
    headers = {"Authorization": "Bearer " + env["read"]} if token else {}

    async def main():
        async with TestClient(TestServer(make_app(env["path"])), headers=headers) as client:
            return await scenario(client)
    return asyncio.run(main())


API_400 = (
    # (address, words the message must hold)
    ("/api/v1/sites/mairie/votes?from=%C2%B2", "from must be"),  # "²": a digit to isdigit()
    ("/api/v1/sites/mairie/votes?to=%D9%A3", "to must be"),     # an Arabic-Indic three
    ("/api/v1/sites/mairie/votes?from=99999-01-01", "from must be"),
    ("/api/v1/sites/mairie/votes?from=", "from is empty"),
    ("/api/v1/sites/mairie/votes?limit=", "limit is empty"),
    ("/api/v1/sites/mairie/votes?limit=%C2%B2", "limit must be an integer"),
    ("/api/v1/sites/mairie/votes?after=", "after is empty"),
    ("/api/v1/sites/mairie/votes?limit=5&limit=6", "limit is given 2 times"),
    ("/api/v1/kiosks?site=", "site is empty"),
    ("/api/v1/ranking?to=0001-01-01", "to must be between 2000-01-01 and 2100-12-31"),
    ("/api/v1/ranking?from=9999-12-31", "from must be between"),
    ("/api/v1/ranking?source=", "source is empty"),
    ("/api/v1/sites/mairie/satisfaction?to=0001-01-01", "to must be between"),
    ("/api/v1/sites/mairie/satisfaction?shrink=peut-etre", "shrink must be true or false"),
    ("/api/v1/sites/mairie/satisfaction?trace=", "trace is empty"),
)


def test_bad_api_parameters_answer_400_saying_what_is_wrong(env):
    async def scenario(client):
        for url, words in API_400:
            r = await client.get(url)
            body = await r.json()
            assert (r.status, body["error"]["status"]) == (400, 400), (url, body)
            assert words in body["error"]["message"], (url, body)
    run(env, scenario)


def test_bad_dates_on_the_manager_pages_answer_400_in_the_page_language(env):
    async def scenario(client):
        await log_in(client)
        for url, words in (
                ("/manager?to=0001-01-01", "La date de fin doit être comprise entre 2000 et 2100"),
                ("/manager/sites/mairie?from=0001-01-01&lang=en",
                 "The start date must be between 2000 and 2100"),
                ("/manager/ranking.csv?to=9999-12-31", "entre 2000 et 2100"),
                ("/manager/sites/mairie/daily.csv?from=%C2%B2", "AAAA-MM-JJ")):
            r = await client.get(url)
            assert r.status == 400, url
            assert words in await r.text(), url
    run(env, scenario, token=False)


def test_an_undeclared_method_is_405_with_allow(env):
    async def scenario(client):
        for url, allowed in (("/api/v1/sites", "GET"), ("/manager/login", "POST"),
                             ("/api/v1/screen-links/1", "DELETE"), ("/healthz", "GET")):
            r = await client.request("TRACE", url)
            assert r.status == 405, url
            assert allowed in r.headers["Allow"], url
    run(env, scenario)


METHODS = ("get", "put", "post", "delete", "patch")


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_undocumented_status(tmp_path):
    """Every operation of the served document, with bounded examples, with
    an admin token; every check but `positive_data_acceptance`, which takes
    each parameter alone: a valid `from` after a valid `to` is rightly 400."""
    db = tmp_path / "b.db"
    make_registry(db, 2)
    auth = api_headers(db, "admin")["Authorization"]
    srv = Server(db, "--http", "127.0.0.1:0", "--broker-port", "0").start()
    try:
        with urllib.request.urlopen(srv.base + "/api/v1/openapi.json") as doc:
            # Schemathesis leaves out the operation that serves the document.
            operations = sum(m in METHODS for path, ops in json.load(doc)["paths"].items()
                             for m in ops if path != "/api/v1/openapi.json")
        out = subprocess.run(
            [SCHEMATHESIS, "run", srv.base + "/api/v1/openapi.json", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance", "-H", "Authorization: " + auth,
             "--max-examples", "25", "--seed", "13", "--workers", "1", "--no-color",
             "--report", "junit", "--report-dir", str(tmp_path / "schemathesis")],
            capture_output=True, text=True, timeout=280, cwd=tmp_path)
    finally:
        srv.stop()
    assert out.returncode == 0, out.stdout[-8000:] + out.stderr[-2000:]
    # Every documented operation was exercised, none skipped.
    assert re.search(r"Tested: %d\b" % operations, out.stdout), out.stdout[-3000:]
    assert "Server error" not in srv.log_text()
