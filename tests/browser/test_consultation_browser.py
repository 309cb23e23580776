"""A consultation in Debian's Chromium: a citizen answers on a phone without
JavaScript and proposes ideas, a manager moderates them (contacts masked,
a reason to reject), another citizen sees the published idea and supports
it once; axe-core finds no serious or critical violation on the phone
page, its error state, the moderation queue, the manager's form and the
public results, in French and English."""
import sqlite3

import pytest

from sync_server.storage.connection import open_db
from sync_server.web import access
from tests.browser.support import PHONE, serious
from tests.server.web.support import PASSWORD
from tests.server_support import SITE, add_consultation


@pytest.fixture(scope="module")
def server(consultation_server):
    access.add_manager(open_db(consultation_server.db), "qualite", PASSWORD)
    return consultation_server


def answer(browser, server, idea, choice):
    ctx = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="fr-FR")
    page = ctx.new_page()
    page.goto("%s/c/%s?site=%s" % (server.base, server.ctoken, SITE), timeout=15000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("label[for=answer-%d]" % choice)
    page.fill("#idea", idea)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Merci !"
    assert "publiée après relecture" in page.content()
    ctx.close()


def test_moderation_round_trip(browser, server):
    answer(browser, server, "Des bancs à l'ombre, écrivez-moi : marie@example.org", 0)
    answer(browser, server, "Appelez le 06 12 34 56 78 pour une affaire", 1)
    mgr = browser.new_context(viewport={"width": 1280, "height": 900})
    page = mgr.new_page()
    page.goto(server.base + "/manager/consultations/%d/ideas" % server.cid, timeout=15000)
    page.get_by_label("Identifiant").fill("qualite")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/ideas")
    queue = page.locator("ul.queue").first.inner_text()
    assert "[adresse masquée]" in queue and "[numéro masqué]" in queue
    assert "marie@example.org" not in page.content() and "06 12 34" not in page.content()
    assert serious(page) == []
    spam = page.locator("li", has_text="Appelez le")
    spam.get_by_role("button", name="Refuser").click()  # no reason: refused
    assert "un refus demande un motif" in page.locator("[role=alert]").inner_text()
    assert serious(page) == []
    page.locator("li", has_text="Appelez le").get_by_label("Motif du refus").fill("Démarchage")
    page.locator("li", has_text="Appelez le").get_by_role("button", name="Refuser").click()
    page.locator("li", has_text="Des bancs").get_by_role("button", name="Publier").click()
    assert page.locator("#queue-empty").count() == 1
    assert "Idées refusées : 1" in page.content()
    mgr.close()
    with sqlite3.connect(server.db) as conn:
        rows = conn.execute("SELECT state, reason FROM consultation_ideas WHERE "
                            "consultation_id = ? ORDER BY id", (server.cid,)).fetchall()
    assert rows[-2:] == [("approved", ""), ("rejected", "Démarchage")]
    # Another phone sees the published idea, masked, and supports it once.
    ctx = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="en-GB")
    page = ctx.new_page()
    page.goto("%s/c/%s?lang=en" % (server.base, server.ctoken), timeout=15000)
    idea = page.locator(".ideas li", has_text="Des bancs")
    assert "[address hidden]" in idea.inner_text() and "Supports: 0" in idea.inner_text()
    assert "Appelez" not in page.content()
    idea.get_by_role("button", name="Support this idea (+1)").click()
    idea = page.locator(".ideas li", has_text="Des bancs")
    assert "Supports: 1" in idea.inner_text() and "You support this idea" in idea.inner_text()
    assert idea.get_by_role("button").count() == 0
    ctx.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_axe_finds_no_serious_violation(browser, server, lang):
    ctx = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = ctx.new_page()
    page.goto("%s/c/%s?lang=%s" % (server.base, server.ctoken, lang), timeout=15000)
    assert serious(page) == []
    page.click("button[type=submit]")  # neither answer nor site: the error state
    assert page.evaluate("document.activeElement.id") == "errors"
    assert page.title().startswith({"fr": "Erreur : ", "en": "Error: "}[lang])
    assert serious(page) == []
    live_id, live_token = add_consultation(server.db, SITE, live_results=True)
    page.goto("%s/c/%s/resultats?lang=%s" % (server.base, live_token, lang), timeout=15000)
    assert page.locator("table.results").count() >= 2
    assert serious(page) == []
    ctx.close()
    mgr = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = mgr.new_page()
    page.goto(server.base + "/manager/login?lang=" + lang, timeout=15000)
    page.locator("input[name=username]").fill("qualite")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/manager*")
    for url in ("/manager/consultations", "/manager/consultations/new",
                "/manager/consultations/%d" % live_id):
        page.goto(server.base + url + "?lang=" + lang, timeout=15000)
        assert serious(page) == [], url
    page.goto(server.base + "/manager/consultations/new?lang=" + lang, timeout=15000)
    page.locator("button[value=save]").click()  # empty: every error at once
    assert page.locator("[role=alert]").count() == 1
    assert serious(page) == []
    mgr.close()
    # The agents' screen with its consultation card.
    _id, key = access.add_link(open_db(server.db), SITE, "accueil")
    tv = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = tv.new_page()
    page.goto("%s/screen/%s?key=%s&lang=%s" % (server.base, SITE, key, lang), timeout=15000)
    assert page.locator(".consultation-card").count() >= 1
    assert serious(page) == []
    tv.close()
