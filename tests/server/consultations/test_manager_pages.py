"""The managers' consultation pages on the real application: the form's
checks in the manager's language, a preview that saves nothing, the life of
a consultation, and the moderation queue (contacts masked, a rejection
needs a reason); none of it without a manager's login."""
import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.consultations import phone
from sync_server.storage import consultations as store
from sync_server.storage.connection import now_ms, open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

FORM = {"title_fr": "Parc", "title_en": "Park", "question_fr": "Ouvrir le soir ?",
        "question_en": "Open in the evening?", "answer_fr_0": "Oui", "answer_en_0": "Yes",
        "answer_fr_1": "Non", "answer_en_1": "No", "kiosk_answers": "2",
        "opens": "2026-01-05T08:00", "closes": "2099-01-05T08:00", "sites": "mairie",
        "ideas": "1"}


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie', 'Mairie', 0)")
    access.add_manager(db, "qualite", PASSWORD)
    return path


def run(path, scenario):
    async def main():
        async with TestClient(TestServer(make_app(path))) as client:
            return await scenario(client)
    return asyncio.run(main())


async def post(client, page_url, action, fields):
    page = await (await client.get(page_url)).text()
    token = re.search(r'action="%s[^"]*"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"'
                      % re.escape(action), page)
    assert token, page
    return await client.post(action + "?lang=fr", data={**fields, "csrf": token.group(1)},
                             allow_redirects=False)


def test_pages_need_a_manager_login(db_path):
    async def scenario(client):
        r = await client.get("/manager/consultations", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/manager/login")
        r = await client.post("/manager/consultations/new", data=FORM, allow_redirects=False)
        assert r.status == 302
    run(db_path, scenario)
    assert store.list_all(open_db(db_path)) == []


def test_create_with_checks_preview_then_open_and_edit(db_path):
    async def scenario(client):
        await log_in(client)
        bad = dict(FORM, closes="2025-01-01T00:00", answer_en_1="", title_en="")
        r = await post(client, "/manager/consultations/new", "/manager/consultations/new",
                       dict(bad, action="save"))
        text = await r.text()
        assert r.status == 400 and 'role="alert"' in text
        assert "la clôture doit suivre l&#39;ouverture" in text
        assert "la réponse 2 doit avoir un texte français et un texte anglais" in text
        assert "ce champ est obligatoire" in text and 'value="Oui"' in text  # kept as typed
        r = await post(client, "/manager/consultations/new", "/manager/consultations/new",
                       dict(FORM, action="preview"))
        text = await r.text()
        assert r.status == 200 and 'id="preview"' in text and "Open in the evening?" in text
        assert store.list_all(open_db(db_path)) == []  # a preview saves nothing
        r = await post(client, "/manager/consultations/new", "/manager/consultations/new",
                       dict(FORM, action="save"))
        assert r.status == 303 and r.headers["Location"].startswith("/manager/consultations/1")
        detail = await (await client.get("/manager/consultations/1")).text()
        assert "brouillon" in detail and "Ouvrir" in detail
        r = await post(client, "/manager/consultations/1", "/manager/consultations/1/state",
                       {"state": "open"})
        assert r.status == 303
        detail = await (await client.get("/manager/consultations/1?lang=en")).text()
        assert "taking answers" in detail and "Close" in detail
        # Once open, the answers are frozen; the question may still be corrected.
        r = await post(client, "/manager/consultations/1/edit", "/manager/consultations/1",
                       dict(FORM, answer_fr_2="Peut-être", answer_en_2="Maybe", action="save"))
        assert r.status == 400 and "ne changent plus" in await r.text()
        r = await post(client, "/manager/consultations/1/edit", "/manager/consultations/1",
                       dict(FORM, question_fr="Ouvrir le parc le soir ?", action="save"))
        assert r.status == 303
        preview = await (await client.get("/manager/consultations/1/preview")).text()
        assert "Ouvrir le parc le soir ?" in preview and "Aperçu" in preview
        # What to print: the kiosk card, the posters (one per site, too).
        r = await client.get("/manager/consultations/1/card.pdf")
        assert r.status == 200 and (await r.read()).startswith(b"%PDF-")
        svg = await (await client.get("/manager/consultations/1/poster.svg?site=mairie")).text()
        token = store.get(open_db(db_path), 1)["token"]
        assert "/c/%s?site=mairie</text>" % token in svg and "Parc" in svg
        listing = await (await client.get("/manager/consultations")).text()
        assert "/manager/consultations/1?lang=fr" in listing and "ouverte" in listing
    run(db_path, scenario)
    c = store.get(open_db(db_path), 1)
    assert c["state"] == "open" and c["question_fr"] == "Ouvrir le parc le soir ?"
    assert [a["fr"] for a in c["answers"]] == ["Oui", "Non"]


def test_moderation_masks_contacts_and_needs_a_reason_to_reject(db_path):
    db = open_db(db_path)
    fields = {"title_fr": "Parc", "title_en": "Park", "question_fr": "Q", "question_en": "Q",
              "answers": [{"fr": "Oui", "en": "Yes"}, {"fr": "Non", "en": "No"}],
              "kiosk_answers": 0, "opens_ms": 0, "closes_ms": 4102444800000, "ideas": 1,
              "live_results": 0}
    store.insert(db.conn, 4, "tk", fields, 0)
    store.set_state(db.conn, 4, "open", 0)
    spam = store.add_idea(db.conn, 4, "mairie", "Appelez le 06 12 34 56 78", "fr", now_ms())
    good = store.add_idea(db.conn, 4, "mairie", "Des bancs, écrivez à a.b@example.org", "fr",
                          now_ms())

    async def scenario(client):
        await log_in(client)
        queue = await (await client.get("/manager/consultations/4/ideas")).text()
        assert "06 12 34 56 78" not in queue and "[numéro masqué]" in queue
        assert "a.b@example.org" not in queue and "[adresse masquée]" in queue
        action = "/manager/consultations/4/ideas/%d" % spam
        r = await post(client, "/manager/consultations/4/ideas", action, {"decision": "reject"})
        assert r.status == 400 and "un refus demande un motif" in await r.text()
        r = await post(client, "/manager/consultations/4/ideas", action,
                       {"decision": "reject", "reason": "Publicité"})
        assert r.status == 303
        r = await post(client, "/manager/consultations/4/ideas",
                       "/manager/consultations/4/ideas/%d" % good, {"decision": "approve"})
        assert r.status == 303
        page = await (await client.get("/c/tk")).text()
        assert "Des bancs, écrivez à [adresse masquée]" in page and "06 12" not in page
        assert "Publicité" not in page  # the reason stays with the moderators
        # The managers' results files, at any time (the citizens' wait for the close).
        r = await client.get("/manager/consultations/4/results.csv")
        assert r.status == 200 and (await r.text()).startswith("consultation_id,")
        r = await client.get("/manager/consultations/4/results.json")
        assert (await r.json())["licence"]["name"] == "Licence Ouverte / Etalab 2.0"
        assert (await client.get("/c/tk/resultats.json")).status == 403
        assert (await client.get("/manager/consultations/4/card.png")).status == 404
    run(db_path, scenario)
    assert [(i["id"], i["state"], i["reason"]) for i in store.ideas(db.conn, 4)] == [
        (spam, "rejected", "Publicité"), (good, "approved", "")]
    assert [i["id"] for i in phone.queue(db.conn, 4)] == []
