"""The QR form end to end in Debian's Chromium: a phone-sized page that works
without JavaScript, keyboard order, errors announced, and axe-core finding
no serious or critical accessibility violation on any of its pages."""
import sqlite3

import pytest

from tests.browser.support import PHONE, serious
from tests.server_support import SITE_NAME


@pytest.fixture(scope="module")
def server(qr_site_server):
    return qr_site_server


def test_form_without_javascript_end_to_end(browser, server):
    ctx = browser.new_context(java_script_enabled=False, viewport=PHONE, locale="fr-FR")
    page = ctx.new_page()
    page.goto(server.base + "/f/" + server.token, timeout=15000)
    assert page.locator("h1").inner_text() == "Votre avis sur " + SITE_NAME
    # Nothing overflows a phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Sending without choosing a level: the page comes back with the error first.
    page.fill("#comment", "Accueil très aimable")
    page.click("button[type=submit]")
    alert = page.locator("[role=alert]")
    assert "choisissez votre niveau" in alert.inner_text()
    assert page.input_value("#comment") == "Accueil très aimable"
    page.click("label[for=level-3]")
    page.check("#topic-courtoisie")
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Merci !"
    ctx.close()
    with sqlite3.connect(server.db) as conn:
        row = conn.execute("SELECT level, topics, comment FROM qr_answers").fetchone()
    assert row == (3, "courtoisie", "Accueil très aimable")


def test_keyboard_order_follows_the_form(browser, server):
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    page.goto(server.base + "/f/" + server.token + "?lang=en", timeout=15000)
    seen = []
    for _ in range(5):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    # Language switch, then the level group (one stop), then the topics in order.
    assert seen == ["A", "level-0", "topic-accueil", "topic-attente", "topic-information"]
    ctx.close()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_axe_finds_no_serious_violation(browser, server, lang):
    ctx = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = ctx.new_page()
    form = server.base + "/f/" + server.token + "?lang=" + lang
    page.goto(form, timeout=15000)
    assert serious(page) == []
    page.fill("#comment", "x" * 10)
    page.click("button[type=submit]")  # no level: the error state
    assert page.locator("[role=alert]").count() == 1
    # The error summary takes the focus and the title says there is an error.
    assert page.evaluate("document.activeElement.id") == "errors"
    assert page.title().startswith({"fr": "Erreur : ", "en": "Error: "}[lang])
    assert serious(page) == []
    page.goto(server.base + "/f/unknown-token?lang=" + lang, timeout=15000)
    assert serious(page) == []
    page.goto(server.base + "/f/" + server.token + "/merci?lang=" + lang, timeout=15000)
    assert serious(page) == []
    ctx.close()
