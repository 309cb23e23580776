"""No input makes a consultation page answer 500: odd answers, sites, ideas,
languages, bodies, and manager fields each get a 4xx page that says what is
wrong, and nothing is stored from them."""
import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.consultations import model
from sync_server.storage import consultations as store
from sync_server.storage.connection import connect, open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

FORM = {"title_fr": "Parc", "title_en": "Park", "question_fr": "Ouvrir ?",
        "question_en": "Open?", "answers": [("Oui", "Yes"), ("Non", "No")],
        "kiosk_answers": 2, "opens": "2026-01-01 08:00", "closes": "2099-01-01 08:00",
        "sites": ["mairie", "bibli"], "ideas": True}


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "borne.db"
    db = open_db(path)
    for sid in ("mairie", "bibli"):
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)", (sid, sid))
    access.add_manager(db, "qualite", PASSWORD)
    conn = connect(path)
    model.move(conn, model.create(conn, FORM), "open")
    return path


def run(path, scenario):
    async def main():
        async with TestClient(TestServer(make_app(path))) as client:
            return await scenario(client)
    return asyncio.run(main())


def stored(path):
    conn = connect(path)
    return conn.execute("SELECT count(*) FROM consultation_answers").fetchone()[0], \
        conn.execute("SELECT count(*) FROM consultation_ideas").fetchone()[0]


PHONE_BODIES = [
    ({"answer": "-1", "site": "mairie"}, 400, "n'existe pas"),
    ({"answer": "\u0663", "site": "mairie"}, 400, "n'existe pas"),   # an Arabic-Indic 3
    ({"answer": "0x1", "site": "mairie"}, 400, "n'existe pas"),
    ({"answer": "999999999999", "site": "mairie"}, 400, "n'existe pas"),
    ({"answer": ["0", "1"], "site": "mairie"}, 400, "n'existe pas"),
    ({"answer": "0", "site": "nowhere"}, 400, "choisissez le lieu"),
    ({"answer": "0", "site": ["mairie", "bibli"]}, 400, "choisissez le lieu"),
    ({"answer": "0", "site": "mairie", "idea": "a\x00b"}, 400, "caractères de contrôle"),
    ({"answer": "0", "site": "mairie", "idea": "é" * 1001}, 400, "1001 caractères"),
    ({"answer": "0", "site": "mairie", "lang": "xx", "idea": "x" * 1001}, 400,
     "1001 caractères"),
    ({"answer": "0", "site": "mairie", "idea": "x" * 20000}, 400, "trop volumineuse"),
    ({"answer": "0", "site": "mairie", **{"f%d" % i: "x" for i in range(40)}}, 400,
     "champs en trop"),
]


def test_phone_page_refuses_odd_input_with_a_message(db_path):
    token = store.get(open_db(db_path), 1)["token"]
    before = stored(db_path)

    async def scenario(client):
        page = await (await client.get("/c/" + token)).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        for fields, status, words in PHONE_BODIES:
            r = await client.post("/c/" + token, data={"csrf": csrf, "lang": "fr", **fields})
            assert r.status == status, fields
            assert words in (await r.text()).replace("&#39;", "'"), fields
        r = await client.post("/c/" + token, data=b"answer=\xff\xfe&csrf=" + csrf.encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 400 and "UTF-8" in await r.text()
        for url in ("/c/" + token + "/ideas/0", "/c/" + token + "/ideas/999999999999"):
            r = await client.post(url, data={"csrf": csrf})  # a field for another form
            assert r.status == 400, url
        assert (await client.get("/c/%s?site=%s&lang=%s" % (token, "x" * 500, "zz"))).status \
            == 200
        assert (await client.get("/c/" + "x" * 300)).status == 404
        assert (await client.get("/c/%s/resultats.xml" % token)).status == 404
    run(db_path, scenario)
    assert stored(db_path) == before


MANAGER_FIELDS = [
    ({"kiosk_answers": "abc"}, "0 (téléphone seulement), 2, 3 ou 4"),
    ({"kiosk_answers": "4"}, "ne peut montrer plus que les 2 réponses"),
    ({"opens": "2026-13-45T99:99"}, "AAAA-MM-JJ HH:MM"),
    ({"opens": "1900-01-01T00:00"}, "AAAA-MM-JJ HH:MM"),
    ({"sites": "nowhere"}, "site inconnu ou archivé : nowhere"),
    ({"title_fr": "a\x01b"}, "caractères de contrôle"),
    ({"title_en": "x" * 121}, "120 caractères au plus"),
    ({"answer_fr_1": ""}, "il faut de 2 à 8 réponses"),
    ({"answer_fr_0": "x" * 81}, "la réponse 1 dépasse 80 caractères"),
]


def test_manager_form_refuses_odd_fields_with_a_message(db_path):
    good = {"title_fr": "Parc", "title_en": "Park", "question_fr": "Q ?", "question_en": "Q?",
            "answer_fr_0": "Oui", "answer_en_0": "Yes", "answer_fr_1": "Non",
            "answer_en_1": "No", "kiosk_answers": "2", "opens": "2026-01-05T08:00",
            "closes": "2099-01-05T08:00", "sites": "mairie", "action": "save"}
    count = len(store.list_all(open_db(db_path)))

    async def scenario(client):
        await log_in(client)
        page = await (await client.get("/manager/consultations/new")).text()
        csrf = re.search(r'action="/manager/consultations/new[^"]*"[^>]*>\s*'
                         r'<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
        for fields, words in MANAGER_FIELDS:
            data = {**good, **fields, "csrf": csrf}
            if "answer_fr_1" in fields:
                data["answer_en_1"] = ""
            r = await client.post("/manager/consultations/new", data=data)
            assert r.status == 400, fields
            assert words in (await r.text()).replace("&#39;", "'"), fields
        page = await (await client.get("/manager/consultations/1")).text()
        state_csrf = re.search(r'action="/manager/consultations/1/state[^"]*"[^>]*>'
                               r'<input type="hidden" name="csrf" value="([^"]+)"', page).group(1)
        r = await client.post("/manager/consultations/1/state",
                              data={"csrf": state_csrf, "state": "bogus"})
        assert r.status == 409 and "ne peut passer" in await r.text()
        assert (await client.get("/manager/consultations/99999")).status == 404
        assert (await client.get("/manager/consultations/0/ideas")).status == 404
        r = await client.post("/manager/consultations/1/state", data={"state": "closed"})
        assert r.status == 403  # no CSRF field
    run(db_path, scenario)
    assert len(store.list_all(open_db(db_path))) == count
    assert store.get(open_db(db_path), 1)["state"] == "open"
