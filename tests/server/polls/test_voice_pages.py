"""The manager's side over real HTTP and SQLite: poll results under the
anonymity rules (open: the count only; closed: a group of 4 hidden with its
message, a group of 5 shown), moderation of free answers and of ideas with
a status and reason, the mirror page (an accessible SVG chart and its
table) and the mirror in the JSON API, equal to the domain's figures."""
import asyncio
import datetime
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.polls import ideas, lifecycle, mirror, questions
from sync_server.storage import polls as poll_store
from sync_server.storage import tokens
from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    path = tmp_path_factory.mktemp("voice") / "borne.db"
    db = open_db(path)
    for sid in ("mairie", "annexe", "bibli"):
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)",
                        (sid, sid.title()))
    access.add_manager(db, "qualite", PASSWORD)
    _id, read = tokens.add_token(db, "read")
    qs = [questions.criterion_question("welcome"), questions.FREE_TEXT]
    poll_id = lifecycle.create(db.conn, "Baromètre", "Barometer", qs, (TODAY - DAY).isoformat(),
                               (TODAY + DAY).isoformat(), ["mairie", "annexe", "bibli"])
    lifecycle.open_poll(db.conn, poll_id)
    poll = lifecycle.get(db, poll_id)
    for site, n in (("mairie", 6), ("annexe", 5), ("bibli", 4)):
        for i in range(n):
            lifecycle.store(db.conn, poll, site, "%s-%d" % (site, i), {0: 3 if i % 2 else 1},
                            {1: "Idée de %s, joindre 01 23 45 67 89" % site} if i == 0 else {},
                            "fr")
    return {"path": path, "db": db, "poll": poll_id, "read": read}


def run(env, scenario, login=True):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            if login:
                await log_in(client)
            return await scenario(client)
    return asyncio.run(main())


def csrf_for(html, action):
    return re.search(re.escape(action) + r'[^>]*>\s*<input type="hidden" name="csrf" '
                     r'value="([^"]+)"', html).group(1)


def test_results_count_only_while_open_then_thresholds(env):
    url = "/manager/polls/%d" % env["poll"]

    async def open_view(client):
        page = await (await client.get(url)).text()
        assert "seul le nombre de répondants" in page
        assert "6 répondant(s)" in page and "15 répondant(s)" in page
        assert "Indice de satisfaction" not in page
        listing = await (await client.get("/manager/polls")).text()
        assert "Baromètre" in listing and ">15</td>" in listing
    run(env, open_view)
    lifecycle.close_poll(env["db"].conn, env["poll"])

    async def closed_view(client):
        page = await (await client.get(url + "?lang=en")).text()
        sections = page.split('<section class="card group"')[1:]
        by_name = {re.search(r">(\w[\w ]*) — ", s).group(1): s for s in sections}
        # bibli (4) is hidden; the smallest shown site (annexe, 5) is hidden with it so
        # that the total minus mairie is 9 people, never bibli's 4 alone
        assert "Not enough answers to protect anonymity" in by_name["Bibli"]
        assert "Not enough answers to protect anonymity" in by_name["Annexe"]
        assert "Happy index" in by_name["Mairie"] and "Happy index" in by_name["All sites"]
        assert "Happy index" not in by_name["Annexe"]
        # mairie: 3 at level 3 and 3 at level 1 -> index (3 x 100 + 3 x 33.3) / 6 = 66.7
        assert "66.7" in by_name["Mairie"]
        # free answers: three pending, none published yet, shown masked for review
        assert page.count('name="decision" value="approve"') == 3
        assert "01 23 45 67 89" not in page and "[number hidden]" in page
        texts = {t["text"]: t["id"] for t in poll_store.texts(env["db"], env["poll"])}
        for site, decision in (("mairie", "approve"), ("bibli", "approve"),
                               ("annexe", "reject")):
            text_id = texts["Idée de %s, joindre 01 23 45 67 89" % site]
            action = "/manager/polls/%d/texts/%d" % (env["poll"], text_id)
            r = await client.post(action, data={"csrf": csrf_for(page, action),
                                                "decision": decision}, allow_redirects=False)
            assert r.status == 303
        page = await (await client.get(url)).text()
        sections = page.split('<section class="card group"')[1:]
        mairie = next(s for s in sections if ">Mairie — " in s)
        assert "Idée de mairie, joindre [numéro masqué]" in mairie
        # bibli's approved text is in the total's list only (its site is hidden)
        assert "Idée de bibli" not in "".join(s for s in sections if ">Bibli — " in s)
        assert "Idée de annexe" not in page
    run(env, closed_view)


def test_ideas_moderated_and_answered_through_the_page(env):
    db = env["db"]
    idea_id = ideas.post(db, "mairie", "Un distributeur d'eau", "fr")
    action = "/manager/ideas/%d" % idea_id

    async def scenario(client):
        page = await (await client.get("/manager/ideas")).text()
        assert "à relire" in page
        r = await client.post(action, data={"csrf": csrf_for(page, action), "action": "approve"},
                              allow_redirects=False)
        assert r.status == 303
        page = await (await client.get("/manager/ideas?lang=en")).text()
        token = csrf_for(page, action)
        r = await client.post(action + "?lang=en", data={"csrf": token, "action": "answer",
                                                         "status": "done", "reason": " "})
        assert r.status == 400 and "Error: write the reason" in await r.text()
        r = await client.post(action, data={"csrf": token, "action": "answer",
                                            "status": "done", "reason": "Installé au 1er"},
                              allow_redirects=False)
        assert r.status == 303
    run(env, scenario)
    assert ideas.latest_answered(db, "mairie", "fr")[0]["reason"] == "Installé au 1er"


def test_mirror_page_and_api(env):
    if lifecycle.get(env["db"], env["poll"])["state"] != "closed":
        lifecycle.close_poll(env["db"].conn, env["poll"])
    period = "from=%s&to=%s" % (TODAY - 5 * DAY, TODAY + DAY)

    async def scenario(client):
        page = await (await client.get("/manager/sites/mairie/mirror?" + period)).text()
        assert 'role="img" aria-labelledby="mirror-title mirror-desc"' in page
        desc = re.search(r'<desc id="mirror-desc">([^<]*)</desc>', page).group(1)
        assert "Accueil et courtoisie, Agents 50% (n=6)" in desc
        assert "<caption>Le miroir en chiffres</caption>" in page
        r = await client.get("/manager/sites/mairie/mirror?from=nope")
        assert r.status == 400
        r = await client.get("/manager/sites/nowhere/mirror")
        assert r.status == 404
    run(env, scenario)

    async def api(client):
        headers = {"Authorization": "Bearer " + env["read"]}
        r = await client.get("/api/v1/sites/mairie/mirror?" + period, headers=headers)
        assert r.status == 200
        body = await r.json()
        expected = mirror.mirror(env["db"], "mairie", TODAY - 5 * DAY, TODAY + DAY)
        assert body == expected
        welcome = next(c for c in body["criteria"] if c["code"] == "welcome")
        assert (welcome["agents"]["x"], welcome["agents"]["n"]) == (3, 6)
        # annexe's group is hidden in this poll: the mirror adds nothing of it
        r = await client.get("/api/v1/sites/annexe/mirror?" + period, headers=headers)
        assert all(c["agents"]["n"] == 0 for c in (await r.json())["criteria"])
        r = await client.get("/api/v1/sites/mairie/mirror?from=2026-13-01", headers=headers)
        assert r.status == 400 and "from" in (await r.json())["error"]["message"]
        r = await client.get("/api/v1/sites/nowhere/mirror", headers=headers)
        assert r.status == 404
        spec = await (await client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/sites/{site_id}/mirror" in spec["paths"]
    run(env, api, login=False)
