"""Every site's figures of a period are read off the event loop
(web.scoring_warm): at startup for the default period, and for a period
first asked by a ranking, in a thread on its own connection. The pages'
connection then reads only the sites changed since. On the real application
over real HTTP and SQLite."""
import asyncio
import datetime
import json
import threading

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.scoring import ranked, report, site_totals
from sync_server.storage.connection import open_db
from sync_server.web import scoring_warm
from sync_server.web.access import add_manager
from sync_server.web.app import make_app
from sync_server.web.keys import DB
from sync_server.web.scoring_warm import WARM
from tests.server.web.support import PASSWORD, add_three_sites, log_in
from tests.server.web.test_screen_api import Votes, noon_ms, today_paris


@pytest.fixture
def env(tmp_path):
    """Three sites and an operator."""
    path = tmp_path / "borne.db"
    db = open_db(path)
    add_three_sites(db)
    add_manager(db, "qualite", PASSWORD)
    return {"path": path, "votes": Votes(db)}


def rollup_reads(statements):
    """The rollup reads of a connection: each names its sites (a site whose
    change counter moved: new votes, or an alert shown on its screen)."""
    reads = [s for s in statements if "FROM rollup_daily" in s]
    assert all("WHERE site_id IN (" in s for s in reads), reads  # never the network's
    return reads


def test_the_loop_reads_only_the_sites_changed(env):
    site_totals.forget()
    ranked.forget()
    day = today_paris()
    last_year = day - datetime.timedelta(365)
    votes = env["votes"]
    votes.add("mairie", {3: 15, 0: 5}, noon_ms(day))                  # 75.0
    votes.add("bibli", {3: 5, 2: 5, 1: 5, 0: 5}, noon_ms(day))        # 50.0
    votes.add("bibli", {3: 12}, noon_ms(last_year))                   # 100.0 a year ago
    older = "from=%s&to=%s" % (last_year - datetime.timedelta(10), last_year)

    async def main():
        app = make_app(env["path"])
        async with TestClient(TestServer(app)) as client:
            await app[WARM].startup  # the default periods, read in the thread
            for from_day, to_day in scoring_warm.default_periods(
                    datetime.datetime.now(datetime.timezone.utc).date()):
                for source in ("kiosk", "qr"):
                    assert not site_totals.needs_reading(app[DB], from_day, to_day, source,
                                                         None, 0)
            await log_in(client)
            statements = []
            app[DB].conn.set_trace_callback(statements.append)
            body = await (await client.get("/api/v1/ranking")).json()
            assert [(s["site"], s["rank"], s["happy_index"]) for s in body["sites"]] == [
                ("mairie", 1, 75.0), ("bibli", 2, 50.0), ("annexe", None, None)]
            body = await (await client.get("/api/v1/ranking?" + older)).json()
            assert [(s["site"], s["happy_index"]) for s in body["sites"]] == [
                ("bibli", 100.0), ("annexe", None), ("mairie", None)]
            rollup_reads(statements)  # both periods read by the thread
            statements.clear()
            votes.add("bibli", {3: 60}, noon_ms(day))                   # now 87.5
            text = await (await client.get("/api/v1/ranking")).text()
            # the rows' JSON text kept between calls: as json.dumps gives it
            assert text == json.dumps(report.ranking(app[DB], *scoring_warm.default_periods(
                datetime.datetime.now(datetime.timezone.utc).date())[0]))
            body = json.loads(text)
            assert [(s["site"], s["rank"], s["happy_index"]) for s in body["sites"]] == [
                ("bibli", 1, 87.5), ("mairie", 2, 75.0), ("annexe", None, None)]
            assert any("'bibli'" in s for s in rollup_reads(statements))
            app[DB].conn.set_trace_callback(None)
    asyncio.run(main())
    site_totals.forget()
    ranked.forget()


def test_other_requests_answer_while_the_thread_reads(env, monkeypatch):
    """A ranking of a period not read yet waits for the thread's reading;
    meanwhile the event loop answers the other requests."""
    day = today_paris()
    env["votes"].add("mairie", {3: 15, 0: 5}, noon_ms(day - datetime.timedelta(100)))
    older = "from=%s&to=%s" % (day - datetime.timedelta(110), day - datetime.timedelta(90))
    entered, release = threading.Event(), threading.Event()
    prepare = site_totals.prepare

    def held_prepare(*args):  # the real reading, once the test lets it go
        entered.set()
        assert release.wait(30)
        return prepare(*args)

    async def main():
        app = make_app(env["path"])
        async with TestClient(TestServer(app)) as client:
            await app[WARM].startup
            await log_in(client)
            monkeypatch.setattr(site_totals, "prepare", held_prepare)
            ranking = asyncio.ensure_future(client.get("/api/v1/ranking?" + older))
            while not entered.is_set():
                await asyncio.sleep(0.01)
            assert (await client.get("/healthz")).status == 200
            page = await client.get("/manager/login")
            assert page.status == 200
            assert not ranking.done()
            release.set()
            body = await (await ranking).json()
            assert [(s["site"], s["happy_index"]) for s in body["sites"]][0] == ("mairie", 75.0)
    try:
        asyncio.run(main())
    finally:
        release.set()
        site_totals.forget()
        ranked.forget()
