"""The agents' pages in Debian's Chromium, over the real `borne serve`, set
up with the real command line (`borne team link add`, `borne poll create`):
a poll answered on a phone in a few taps, one question per screen, touch
targets of at least 48 px, and axe-core finding no serious or critical
violation on any of the agents' pages, in French and in English."""
import datetime
import json
import sqlite3

import pytest

from tests import realparts
from tests.browser.support import PHONE, chromium, serious
from tests.server_support import SITE, SITE_NAME, Server, borne

TODAY = datetime.datetime.now(datetime.timezone.utc).date()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("team")
    db = str(tmp / "borne.db")
    borne("site", "add", SITE, "--name", SITE_NAME, "--db", db)
    port = realparts.free_port()
    base = "http://127.0.0.1:%d" % port
    link = json.loads(borne("team", "link", "add", SITE, "--base-url", base, "--json",
                            "--db", db).stdout)
    poll = borne("poll", "create", "--title-fr", "Baromètre interne", "--title-en",
                 "Staff barometer", "--site", SITE, "--opens",
                 (TODAY - datetime.timedelta(1)).isoformat(), "--closes",
                 (TODAY + datetime.timedelta(1)).isoformat(), "--criteria", "welcome,waiting",
                 "--free-text", "--db", db).stdout.strip()
    borne("poll", "open", poll, "--db", db)
    srv = Server(db, "--http", "127.0.0.1:%d" % port, "--broker-port", "0").start(timeout=30)
    try:
        with chromium() as browser:
            yield {"db": db, "url": link["url"], "poll": poll, "browser": browser}
    finally:
        srv.stop()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_poll_on_a_phone_in_a_few_taps_and_axe_clean(stack, lang):
    ctx = stack["browser"].new_context(viewport=PHONE, bypass_csp=True)
    page = ctx.new_page()
    page.goto(stack["url"] + "&lang=" + lang, timeout=15000)
    assert serious(page) == []
    page.click("a.button[href*='/polls/']")
    assert page.locator(".progress").inner_text() == {"fr": "Question 1 sur 3",
                                                       "en": "Question 1 of 3"}[lang]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # every answer is a large touch target
    for box in (page.locator(".option label").nth(i).bounding_box() for i in range(4)):
        assert box["height"] >= 48 and box["width"] >= 300
    assert serious(page) == []
    page.click("#next")  # no answer chosen: the error is said, in the page's language
    assert page.locator("[role=alert]").inner_text().startswith(
        {"fr": "Erreur : ", "en": "Error: "}[lang])
    assert serious(page) == []
    page.click("label[for=a0-3]")
    page.click("#next")
    page.click("label[for=a1-2]")
    page.click("#next")
    assert page.locator(".progress").inner_text().endswith("3")
    assert serious(page) == []
    page.fill("#answer", "Un écran pour l'attente")
    page.click("#next")
    assert page.locator("[role=status]").count() == 1
    assert serious(page) == []
    page.click("a.button[href*='/ideas']")
    assert serious(page) == []
    page.click("button[type=submit]")  # an empty idea: refused, explained
    assert page.locator("[role=alert]").count() == 1
    assert serious(page) == []
    page.fill("#idea", "Des plantes dans la salle d'attente")
    page.click("button[type=submit]")
    assert page.locator("[role=status]").count() == 1
    ctx.close()


def test_the_answers_arrived_without_identity(stack):
    with sqlite3.connect(stack["db"]) as conn:
        rows = conn.execute("SELECT site_id, answers FROM poll_responses").fetchall()
        texts = conn.execute("SELECT text, state FROM poll_texts").fetchall()
        devices = conn.execute("SELECT count(*) FROM poll_devices").fetchone()[0]
    assert sorted(rows) == [(SITE, '{"0": 3, "1": 2}')] * 2
    assert texts == [("Un écran pour l'attente", "pending")] * 2
    assert devices == 2
    borne("poll", "close", stack["poll"], "--db", stack["db"])
    with sqlite3.connect(stack["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM poll_devices").fetchone()[0] == 0
    # two respondents: the export gives their number, never their answers
    out = borne("poll", "export", stack["poll"], "--db", stack["db"]).stdout.splitlines()
    assert out[1:] == ["%s,%s,2,0,,,,,,,,," % (stack["poll"], SITE),
                       "%s,*,2,0,,,,,,,,," % stack["poll"]]


def test_the_manager_pages_of_the_agents_voice_pass_axe(stack):
    """After the poll is closed (previous test): its results, the ideas and
    the mirror chart, axe clean, the chart with its text description."""
    import subprocess

    from tests.server_support import BORNE
    out = subprocess.run([BORNE, "manager", "add", "qualite", "--password-stdin", "--db",
                          stack["db"]], input="un mot de passe long\n", capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    base = stack["url"].split("/team/")[0]
    ctx = stack["browser"].new_context(viewport={"width": 1280, "height": 900},
                                       bypass_csp=True)
    page = ctx.new_page()
    page.goto(base + "/manager/login", timeout=15000)
    page.get_by_label("Identifiant").fill("qualite")
    page.get_by_label("Mot de passe").fill("un mot de passe long")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/manager")
    for path in ("/manager/polls/%s" % stack["poll"], "/manager/ideas",
                 "/manager/sites/%s/mirror" % SITE):
        for lang in ("fr", "en"):
            page.goto(base + path + "?lang=" + lang, timeout=15000)
            assert serious(page) == [], path
    svg = page.locator("svg.mirror")
    assert svg.get_attribute("role") == "img"
    # two agents only and no citizens' data: the chart says so in words
    assert page.locator("#mirror-desc").text_content() == "No data yet"
    ctx.close()
