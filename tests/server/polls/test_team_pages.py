"""The agents' pages over real HTTP and SQLite: the team link opens its own
site only (not a manager's session, not an API token, not a revoked or
rotated link), a poll answered one question per screen and stored only at
the last, once per device, errors in the agent's language, and the idea
box (posted, moderated, supported once, answered)."""
import asyncio
import datetime
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.polls import ideas, lifecycle, questions
from sync_server.storage import tokens
from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
DAY = datetime.timedelta(days=1)
QUESTIONS = [questions.criterion_question("welcome"),
             {"kind": "choice", "fr": "Votre service ?", "en": "Your department?",
              "choices": [{"fr": "Accueil", "en": "Front desk"},
                          {"fr": "État civil", "en": "Registry"}]},
             questions.FREE_TEXT]


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    for sid in ("mairie", "bibli"):
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)",
                        (sid, sid.title()))
    _id, key = access.add_link(db, "mairie", "salle de pause", kind="team")
    _id, other = access.add_link(db, "bibli", kind="team")
    _id, screen = access.add_link(db, "mairie")
    _id, admin = tokens.add_token(db, "admin")
    poll_id = lifecycle.create(db.conn, "Baromètre", "Barometer", QUESTIONS,
                               (TODAY - DAY).isoformat(), (TODAY + DAY).isoformat(), ["mairie"])
    lifecycle.open_poll(db.conn, poll_id)
    return {"path": path, "db": db, "key": key, "other": other, "screen": screen,
            "admin": admin, "poll": poll_id}


def run(env, scenario):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            return await scenario(client)
    return asyncio.run(main())


def csrf_of(html, action=""):
    """The CSRF field of the page's first form, or of the form posting to `action`."""
    pattern = re.escape(action) + r'[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"'
    return re.search(pattern if action else r'name="csrf" value="([^"]+)"', html).group(1)


async def answer_poll(client, env, levels=(3, 1, "Des chaises"), lang="fr"):
    """Walk the poll screen by screen as a browser does; the last response."""
    url = "/team/mairie/polls/%d?key=%s&lang=%s" % (env["poll"], env["key"], lang)
    page = await (await client.get(url)).text()
    fields = {}
    for step, value in enumerate(levels):
        assert "Question %d" % (step + 1) in page
        fields.update({"csrf": csrf_of(page), "step": str(step), "a%d" % step: str(value)})
        r = await client.post(url, data=fields, allow_redirects=False)
        page = await r.text()
    return r, url, fields


def responses(env):
    return env["db"].conn.execute("SELECT count(*) FROM poll_responses").fetchone()[0]


def test_the_team_link_opens_its_site_only(env):
    access.add_manager(env["db"], "qualite", PASSWORD)
    async def scenario(client):
        ok = await client.get("/team/mairie?key=" + env["key"])
        assert ok.status == 200 and "Baromètre" in await ok.text()
        assert ok.cookies["borne_team"]["path"] == "/team/"
        for url, status in (("/team/mairie", 403), ("/team/bibli?key=" + env["key"], 403),
                            ("/team/mairie?key=" + env["other"], 403),
                            ("/team/mairie?key=" + env["screen"], 403)):
            r = await client.get(url)
            assert r.status == status and "lien d&#39;équipe" in await r.text(), url
        r = await client.get("/team/mairie", headers={"Authorization": "Bearer " + env["admin"]})
        assert r.status == 403
        # the team key does not open the screen
        assert (await client.get("/screen/mairie?key=" + env["key"])).status == 403
        await log_in(client)  # a manager's session does not answer the agents' polls
        assert (await client.get("/team/mairie")).status == 403
    run(env, scenario)


def test_a_rotated_link_closes_the_old_one(env):
    _id, new = access.rotate_links(env["db"], "mairie", kind="team")

    async def scenario(client):
        assert (await client.get("/team/mairie?key=" + env["key"])).status == 403
        assert (await client.get("/team/mairie?key=" + new)).status == 200
        assert (await client.get("/team/bibli?key=" + env["other"])).status == 200
    run(env, scenario)


def test_a_poll_screen_by_screen_stored_once_per_device(env):
    async def scenario(client):
        r, url, fields = await answer_poll(client, env)
        assert r.status == 303 and "done=1" in r.headers["Location"]
        assert responses(env) == 1
        home = await (await client.get(r.headers["Location"])).text()
        assert "Merci ! Votre réponse est enregistrée" in home
        assert "Vous avez répondu" in home
        again = await client.get("/team/mairie/polls/%d?key=%s" % (env["poll"], env["key"]))
        assert "Déjà répondu" in await again.text()
        # replaying the last screen changes nothing
        r = await client.post(url, data=fields)
        assert r.status == 409 and responses(env) == 1
        # another phone answers
        client.session.cookie_jar.clear()
        assert (await answer_poll(client, env, lang="en"))[0].status == 303
        assert responses(env) == 2
    run(env, scenario)
    rows = env["db"].conn.execute("SELECT answers FROM poll_responses").fetchall()
    assert rows == [('{"0": 3, "1": 1}',)] * 2
    texts = env["db"].conn.execute("SELECT text, state FROM poll_texts").fetchall()
    assert texts == [("Des chaises", "pending")] * 2


def test_nothing_is_stored_before_the_last_screen_and_errors_are_explained(env):
    async def scenario(client):
        url = "/team/mairie/polls/%d?key=%s&lang=en" % (env["poll"], env["key"])
        page = await (await client.get(url)).text()
        token = csrf_of(page)
        r = await client.post(url, data={"csrf": token, "step": "0"})
        assert r.status == 400 and "Error: choose an answer." in await r.text()
        r = await client.post(url, data={"csrf": token, "step": "0", "a0": "9"})
        assert r.status == 400 and "does not exist" in await r.text()
        r = await client.post(url, data={"csrf": token, "step": "0", "a0": "2"})
        assert r.status == 200 and "Question 2 of 3" in await r.text()
        assert responses(env) == 0
        # back to the first question, the answer kept
        r = await client.post(url, data={"csrf": token, "step": "1", "a0": "2", "back": "1"})
        assert 'id="a0-2" value="2" checked' in await r.text()
        # a tampered earlier answer is refused, not stored
        r = await client.post(url, data={"csrf": token, "step": "2", "a0": "7", "a1": "0"})
        assert r.status == 400 and responses(env) == 0
        r = await client.post(url, data={"csrf": "1.nope", "step": "0", "a0": "1"})
        assert r.status == 403
        r = await client.post(url, data={"csrf": token, "step": "x"})
        assert r.status == 400
        r = await client.post(url, data={"csrf": token, "step": "2", "a0": "1", "a1": "0",
                                         "a2": "bad\x01text"})
        assert r.status == 400 and "control characters" in await r.text()
        for bad in ("/team/mairie/polls/999?key=", "/team/mairie/polls/abc?key="):
            r = await client.get(bad + env["key"])
            assert r.status == 404
    run(env, scenario)


def test_a_closed_poll_takes_no_answer(env):
    lifecycle.close_poll(env["db"].conn, env["poll"])

    async def scenario(client):
        home = await (await client.get("/team/mairie?key=" + env["key"])).text()
        assert "Aucun questionnaire en cours" in home
        r = await client.get("/team/mairie/polls/%d?key=%s" % (env["poll"], env["key"]))
        assert r.status == 404
    run(env, scenario)


def test_idea_box_moderated_supported_once_answered(env):
    db = env["db"]

    async def scenario(client):
        url = "/team/mairie/ideas?key=" + env["key"]
        page = await (await client.get(url)).text()
        r = await client.post(url, data={"csrf": csrf_of(page), "idea": "  "})
        assert r.status == 400 and "écrivez votre idée" in await r.text()
        r = await client.post(url, data={"csrf": csrf_of(page),
                                         "idea": "Un écran d'attente, écrivez à a.b@c.fr"},
                              allow_redirects=False)
        assert r.status == 303
        page = await (await client.get(url)).text()
        assert "publiée après relecture" not in page  # posted=1 is only on the redirect
        assert "Un écran d'attente" not in page  # pending: not shown
        idea_id = db.conn.execute("SELECT id FROM staff_ideas").fetchone()[0]
        ideas.moderate(db, idea_id, approve=True)
        page = await (await client.get(url)).text()
        assert "Un écran d&#39;attente, écrivez à [adresse masquée]" in page
        support = "/team/mairie/ideas/%d/support?key=%s" % (idea_id, env["key"])
        for _ in range(2):
            await client.post(support, data={"csrf": csrf_of(page, support.split("?")[0])})
        assert db.conn.execute("SELECT supports FROM staff_ideas").fetchone()[0] == 1
        page = await (await client.get(url)).text()
        assert "Vous soutenez cette idée" in page
        # another site's link sees nothing of it and cannot support it
        other = "/team/bibli/ideas?key=" + env["other"]
        page = await (await client.get(other)).text()
        assert "Un écran" not in page
        assert not ideas.support(db.conn, "bibli", idea_id, "a-bibli-phone-cookie-000")
        assert db.conn.execute("SELECT supports FROM staff_ideas").fetchone()[0] == 1
        ideas.answer(db, idea_id, "planned", "Commandé pour janvier")
        home = await (await client.get("/team/mairie?key=%s&lang=en" % env["key"])).text()
        assert "Latest ideas answered" in home and "Planned" in home
        assert "Commandé pour janvier" in home
        # the agents' screen shows it too, and its JSON
        screen = await (await client.get("/screen/mairie?key=" + env["screen"])).text()
        assert "Dernières idées ayant reçu une réponse" in screen
        assert "Commandé pour janvier" in screen
        data = await (await client.get("/screen/mairie/data.json?key=" + env["screen"])).json()
        assert data["ideas"][0]["status"] == "planned"
    run(env, scenario)
    kept = db.conn.execute("SELECT device FROM staff_idea_supports").fetchall()
    assert len(kept) == 1 and len(kept[0][0]) == 64


def test_idea_texts_and_answers_checked(env):
    with pytest.raises(ideas.IdeaError, match="at most 1000"):
        ideas.post(env["db"], "mairie", "x" * 1001, "fr")
    idea_id = ideas.post(env["db"], "mairie", "Une idée", "fr")
    with pytest.raises(ideas.IdeaError, match="status must be"):
        ideas.answer(env["db"], idea_id, "maybe", "why")
    with pytest.raises(ideas.IdeaError, match="empty"):
        ideas.answer(env["db"], idea_id, "done", " ")
    with pytest.raises(ideas.IdeaError, match="no idea"):
        ideas.moderate(env["db"], 999, approve=True)
    # answering a pending idea approves it: the agents see the answer
    ideas.answer(env["db"], idea_id, "not_retained", "Hors budget")
    shown = ideas.for_agents(env["db"], "mairie", "fr")
    assert [(i["status"], i["reason"]) for i in shown] == [("not_retained", "Hors budget")]


def test_the_team_key_is_masked_in_the_access_log():
    from aiohttp.test_utils import make_mocked_request

    from sync_server.web.access_log import redacted
    request = make_mocked_request("GET", "/team/mairie?key=s3cr3t-team-key&lang=en")
    assert redacted(request) == "/team/mairie?key=***&lang=en"
