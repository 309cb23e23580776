"""A consultation's phone page over HTTP against a real `borne serve`: French
and English, one answer per phone, the QR form's address budget, the site
of the answer, bad input (a clear message, never a 500), ideas kept out of
the page until moderated, one support per phone."""
import json
import re
import sqlite3
import urllib.request

import pytest

from sync_server.consultations import phone
from sync_server.feedback import guard
from sync_server.storage.connection import connect
from sync_server.web import access
from tests.server_support import (
    SITE,
    SITE2,
    Client,
    add_consultation,
    consultation_cli,
    location,
)


@pytest.fixture(scope="module")
def server(consultation_server):
    return consultation_server


def path(server, query=""):
    return "/c/%s%s" % (server.ctoken, query)


def answers(server):
    with sqlite3.connect(server.db) as conn:
        return conn.execute("SELECT site_id, channel, answer, utc_ms IS NOT NULL "
                            "FROM consultation_answers WHERE consultation_id = ? ORDER BY id",
                            (server.cid,)).fetchall()


def send(c, server, query="", **fields):
    """Load the page, then post its form as a browser would."""
    fields.setdefault("lang", "fr")
    fields["csrf"] = c.csrf(path=path(server, query))
    return c.post(fields, path=path(server, query))


def refused(server):
    with urllib.request.urlopen(server.base + "/healthz", timeout=5) as resp:
        return json.loads(resp.read())["qr"]["refused"]


def test_page_in_french_and_english(server):
    c = Client(server, "127.0.1.1")
    fr = c.get(path(server))
    assert fr.status == 200 and '<html lang="fr">' in fr.text
    assert '<link rel="stylesheet" href="/static/feedback_consultation.css">' in fr.text
    assert c.get("/static/feedback_consultation.css").status == 200
    assert "Faut-il ouvrir le parc le soir ?" in fr.text
    assert fr.text.count('type="radio" name="answer"') == 3 and "Sans avis" in fr.text
    assert 'name="site"' in fr.text  # two sites and no ?site=: the citizen picks
    en = c.get(path(server, "?lang=en&site=" + SITE))
    assert '<html lang="en">' in en.text and "Should the park open" in en.text
    assert "No opinion" in en.text and 'name="site"' not in en.text
    assert Client(server).get("/c/nope").status == 404


def test_one_answer_per_phone_with_its_site(server):
    before = answers(server)
    c = Client(server, "127.0.1.2")
    fields = {"csrf": c.csrf(path=path(server, "?site=" + SITE2)), "lang": "fr", "answer": "1"}
    r = c.post(fields, path=path(server, "?site=" + SITE2))
    assert r.status == 303 and location(r) == "/c/%s/merci" % server.ctoken
    assert answers(server) == before + [(SITE2, "phone", 1, 1)]
    # The page no longer offers the form; the same form sent again is refused.
    assert 'name="answer"' not in c.get(path(server)).text
    again = c.post(dict(fields, answer="0"), path=path(server, "?site=" + SITE2))
    assert again.status == 409 and "Une seule réponse par téléphone" in again.text
    assert "déjà répondu" in c.get(path(server)).text
    # Another phone at the same address answers once too.
    other = Client(server, "127.0.1.2")
    assert send(other, server, answer="0", site=SITE).status == 303
    assert answers(server)[-1] == (SITE, "phone", 0, 1)
    # Nothing that names the phone or its address is stored.
    with sqlite3.connect(server.db) as conn:
        dump = "\n".join(conn.iterdump())
    assert "127.0.1.2" not in dump and c.cookies["borne_csrf"] not in dump
    assert "127.0.1.2" not in server.log_text()


def test_bad_input_gets_a_clear_message_and_stores_nothing(server):
    before = answers(server)
    c = Client(server, "127.0.1.3")
    r = send(c, server)  # neither answer nor site
    assert r.status == 400 and "choisissez une réponse" in r.text
    assert "choisissez le lieu" in r.text
    r = send(c, server, "?site=" + SITE, answer="3", lang="en")
    assert r.status == 400 and "the answer received does not exist" in r.text
    r = send(c, server, "?site=" + SITE, answer="0", idea="x" * 1001)
    assert r.status == 400 and "1001 caractères" in r.text and "x" * 1001 in r.text
    r = c.post({"answer": "0", "site": SITE}, path=path(server))
    assert r.status == 400 and "formulaire a expiré" in r.text
    r = c.post(None, path=path(server), raw=b"answer=\xff\xfe")
    assert r.status == 400 and "UTF-8" in r.text
    r = c.post(None, path="/c/%s/ideas/999999" % server.ctoken, raw=b"lang=fr")
    assert r.status == 400
    assert answers(server) == before
    counts = refused(server)
    assert counts["c_invalid"] >= 3 and counts["c_csrf"] >= 2


def test_a_script_looping_from_one_address_is_stopped(server):
    """Fresh cookies each turn (new 'phones'): the address budget the QR
    form uses stops it; what was accepted stays."""
    before = len(answers(server))
    statuses = [send(Client(server, "127.0.1.4"), server, "?site=" + SITE, answer="2").status
                for _ in range(40)]
    accepted = statuses.count(303)
    assert guard.BURST <= accepted <= guard.BURST + 2, statuses
    assert statuses[accepted:] == [429] * (40 - accepted)
    assert len(answers(server)) == before + accepted


def test_ideas_wait_for_moderation_then_take_one_support_per_phone(server):
    c = Client(server, "127.0.1.5")
    r = send(c, server, "?site=" + SITE, answer="0",
             idea="Des bancs à l'ombre. Écrivez-moi : jean.dupont@example.org ou 06 12 34 56 78")
    assert r.status == 303 and "idea=1" in dict((k.lower(), v) for k, v in r.headers)["location"]
    page = Client(server, "127.0.1.6").get(path(server))
    assert "Des bancs" not in page.text  # nothing before moderation
    conn = connect(server.db)
    try:
        (queued,) = [i for i in phone.queue(conn, server.cid) if "bancs" in i["text"]]
        assert "jean.dupont" not in queued["text"] and "[adresse masquée]" in queued["text"]
        assert "[numéro masqué]" in queued["text"]
        phone.moderate(conn, queued["id"], True, "", guard.now_ms())
    finally:
        conn.close()
    reader = Client(server, "127.0.1.6")
    page = reader.get(path(server, "?lang=en"))
    assert "Des bancs" in page.text and "[address hidden]" in page.text
    assert "jean.dupont" not in page.text and "Supports: 0" in page.text
    support = "/c/%s/ideas/%d" % (server.ctoken, queued["id"])
    token = re.search(r'action="%s"><input type="hidden" name="csrf" value="([^"]+)"' % support,
                      page.text).group(1)
    r = reader.post({"csrf": token, "lang": "en"}, path=support)
    assert r.status == 303
    page = reader.get(path(server, "?lang=en"))
    assert "Supports: 1" in page.text and "You support this idea" in page.text
    r = reader.post({"csrf": token, "lang": "en"}, path=support)
    assert r.status == 409 and "one support per phone" in r.text
    assert "Soutiens : 1" in Client(server, "127.0.1.7").get(path(server)).text


def test_the_agents_screen_shows_the_running_consultation_and_its_turnout(server):
    conn = connect(server.db)
    try:
        _id, key = access.add_link(conn, SITE, "accueil")
        _id, key2 = access.add_link(conn, SITE2, "accueil")
    finally:
        conn.close()
    here = [row for row in answers(server) if row[0] == SITE]
    c = Client(server, "127.0.1.10")
    data = json.loads(c.get("/screen/%s/data.json?key=%s" % (SITE, key)).body)
    (shown,) = [x for x in data["consultations"] if x["id"] == server.cid]
    assert shown["title"]["fr"] == "Parc des Tilleuls"
    assert shown["today"] == {"kiosk": 0, "phone": len(here), "all": len(here)}
    assert shown["total"] == shown["today"]
    page = c.get("/screen/%s?key=%s&lang=en" % (SITE, key)).text
    assert "Consultation running" in page and "Should the park open in the evening?" in page
    assert '<strong data-figure="consultation-today">%d</strong> answers today' % len(here) in page
    # The other site's screen shows it with that site's own turnout.
    there = json.loads(c.get("/screen/%s/data.json?key=%s" % (SITE2, key2)).body)
    (shown2,) = [x for x in there["consultations"] if x["id"] == server.cid]
    assert shown2["total"]["all"] == len([row for row in answers(server) if row[0] == SITE2])
    assert shown2["total"]["all"] != shown["total"]["all"]


def test_a_closed_or_draft_consultation_takes_no_answer(server):
    c = Client(server, "127.0.1.8")
    csrf = c.csrf(path=path(server))
    draft_id, draft_token = add_consultation(server.db, SITE, open_it=False)
    assert c.get("/c/" + draft_token).status == 404
    ended_id, ended_token = add_consultation(server.db, SITE)
    ended_csrf = c.csrf(path="/c/" + ended_token)
    consultation_cli(server.db, "close", str(ended_id))
    assert "ne reçoit pas de réponses" in c.get("/c/" + ended_token).text
    r = c.post({"csrf": ended_csrf, "answer": "0", "lang": "fr"}, path="/c/" + ended_token)
    assert r.status == 409 and "ne reçoit plus de réponses" in r.text
    with sqlite3.connect(server.db) as conn:
        assert conn.execute("SELECT count(*) FROM consultation_answers WHERE consultation_id "
                            "IN (?, ?)", (draft_id, ended_id)).fetchone()[0] == 0
    assert csrf


def test_results_are_public_once_closed_or_live_if_chosen(server):
    c = Client(server, "127.0.1.9")
    live_id, live_token = add_consultation(server.db, SITE, live_results=True)
    # The running consultation without live results: not yet.
    for suffix in ("/resultats", "/resultats.csv", "/resultats.json"):
        r = c.get(path(server, suffix))
        assert r.status == 403 and "publiés à la clôture" in r.text, suffix
    live = c.get("/c/%s/resultats?lang=en" % live_token)
    assert live.status == 200 and "Provisional results" in live.text
    consultation_cli(server.db, "close", str(server.cid))
    page = c.get(path(server, "/resultats"))
    assert page.status == 200 and "Résultats définitifs" in page.text
    assert "Licence Ouverte / Etalab 2.0" in page.text
    doc = json.loads(c.get(path(server, "/resultats.json")).body)
    assert doc["licence"]["name"] == "Licence Ouverte / Etalab 2.0"
    overall = [r for r in doc["results"] if r["site_id"] == "" and r["channel"] == "phone"]
    counted = sum(1 for row in answers(server))
    assert overall[0]["counted"] == counted and sum(r["count"] for r in overall) == counted
    text = c.get(path(server, "/resultats.csv")).text
    assert text.startswith("consultation_id,site_id,") and "Licence Ouverte" in text
    assert "Sans avis" in page.text and "%d" % counted in page.text
