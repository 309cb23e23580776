"""The agents' screen in Debian's Chromium, fed by a kiosk publishing real
vote batches to a real Mosquitto, ingested by the real `borne serve`: the
open screen shows the new votes without a reload, it fits a TV with and
without the alert banner, consultation and staff-idea cards, it passes
axe-core, the English switch works and a revoked link closes it."""
import datetime
import json
import os
import subprocess
import threading
import time
import zoneinfo

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import expect

from protocol import server_wire as w
from sync_server.polls import ideas
from sync_server.storage import alerts, rollup
from sync_server.storage.connection import open_db
from tests import realparts
from tests.browser.support import chromium, serious
from tests.server_support import (
    BORNE,
    Server,
    add_consultation,
    consultation_cli,
    make_registry,
    secured_mosquitto,
)

SITE = "mairie-centre"
BUSY = "mairie-annexe"  # a site with every card of the screen at once
LIVE_TIMEOUT_MS = 2000  # the promise: a new vote shows within 2 s


def borne(*argv, stdin=None):
    out = subprocess.run([BORNE, *argv], capture_output=True, text=True, input=stdin,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Kiosk:
    """A kiosk's MQTT side: publishes vote batches, waits for the server's ack."""

    def __init__(self, port, device_id, secret):
        self.dev = device_id
        self.acks = []
        self.acked = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
        self.c.username_pw_set(device_id, secret)
        self.c.on_message = self._on_message
        subscribed = threading.Event()
        self.c.on_connect = lambda c, *a: c.subscribe(w.topic(device_id, "ack"), qos=1)
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.connect("127.0.0.1", port, keepalive=10)
        self.c.loop_start()
        assert subscribed.wait(10), "kiosk could not subscribe to its ack topic"

    def _on_message(self, client, userdata, msg):
        with self.acked:
            self.acks.append(w.decode_ack(msg.payload)[1])
            self.acked.notify_all()

    def send(self, seq0, levels, boot=1):
        now = int(time.time() * 1000)
        votes = [(seq0 + i, now - 1000 + i, lv, 4, 0) for i, lv in enumerate(levels)]
        last = votes[-1][0]
        self.c.publish(w.topic(self.dev, "votes"), w.encode_batch(self.dev, boot, votes), qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: last in self.acks, timeout=20), "no ack"

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def seed_qr_and_mystery(db_path, tmp, site=SITE):
    """A QR comment and a mystery phone test from yesterday, so that every
    panel of the screen has something to show."""
    db = open_db(db_path)
    now = int(time.time() * 1000)
    db.conn.execute("BEGIN IMMEDIATE")
    db.conn.execute("INSERT INTO qr_answers (site_id, token, level, scale, topics, comment,"
                    " created_ms) VALUES (?, 't', 1, 4, 'attente', ?, ?)",
                    (site, "Attente trop longue, rappelez-moi au 06 12 34 56 78", now))
    rollup.apply_votes(db.conn, [dict(site_id=site, utc_ms=now, level=1, scale=4, flags=0)],
                       source="qr")
    # Yesterday's kiosk votes, for the morning view: 8 x 3 and 4 x 2 = 88.9
    rollup.apply_votes(db.conn, [dict(site_id=site, utc_ms=now - 86_400_000, level=lv, scale=4,
                                      flags=0) for lv in [3] * 8 + [2] * 4])
    db.conn.execute("COMMIT")
    mystery = pytest.importorskip("sync_server.mystery.audits")
    day = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).date() - datetime.timedelta(1)
    path = tmp / ("campaign-%s.csv" % site)
    path.write_text("test_id,site,date,time,channel,step,rings,TEL_PRESENTATION,COURTOISIE\n"
                    "T-%s,%s,%s,10:00,téléphone,accès,4,oui,oui\n" % (site, site, day),
                    encoding="utf-8")
    assert mystery.import_file(db, str(path)).errors == []
    db.conn.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    realparts.need_binary("mosquitto")
    tmp = tmp_path_factory.mktemp("screen")
    db = str(tmp / "borne.db")
    kiosks = make_registry(db, kiosks=1, site=SITE)
    link = json.loads(borne("screen", "link", "add", SITE, "--label", "accueil", "--json",
                            "--base-url", "http://127.0.0.1", "--db", db))
    seed_qr_and_mystery(db, tmp)
    broker = secured_mosquitto(db)
    port = realparts.free_port()
    srv = Server(db, "--mqtt", broker.url, "--http", "127.0.0.1:%d" % port).start()
    (dev, secret), = kiosks.items()
    kiosk = Kiosk(broker.port, dev, secret)
    try:
        with chromium() as browser:
            yield {"db": db, "base": "http://127.0.0.1:%d" % port, "link": link,
                   "kiosk": kiosk, "browser": browser, "server": srv}
    finally:
        kiosk.close()
        assert srv.terminate() == 0
        broker.stop()


IDEAS = [  # (idea, status, reason): three answered ideas, one of them long
    ("Un distributeur d'eau fraîche dans la salle d'attente", "planned",
     "Commandé, installation prévue en janvier"),
    ("Des chaises plus confortables près des guichets. " * 6, "under_study",
     "Devis demandé à deux fournisseurs, réponse attendue avant la fin du mois"),
    ("Ouvrir le samedi matin", "not_retained", "Pas assez d'agents volontaires ce trimestre"),
]


@pytest.fixture(scope="module")
def busy(stack, tmp_path_factory):
    """A second site showing every card at once: two live alerts (a low
    battery and a backlog, true of its kiosks' telemetry, so that the
    server's evaluation keeps them), a running consultation, three answered
    staff ideas and four kiosks. Returns the screen's address."""
    db = stack["db"]
    devs = sorted(make_registry(db, kiosks=4, site=BUSY, name="Salle des fêtes"))
    link = json.loads(borne("screen", "link", "add", BUSY, "--label", "accueil", "--json",
                            "--base-url", "http://127.0.0.1", "--db", db))
    seed_qr_and_mystery(db, tmp_path_factory.mktemp("busy"), site=BUSY)
    conn = open_db(db)
    now = int(time.time() * 1000)
    conn.conn.executemany(
        "INSERT INTO kiosk_status (device_id, state, last_seen_ms, battery_pct, journal)"
        " VALUES (?, 'online', ?, ?, ?)",
        [(devs[0], now, 12, 3), (devs[1], now, 80, 900), (devs[2], now, 95, 0)])
    opened = alerts.apply_changes(conn, [(BUSY, devs[0], "battery", {"battery_pct": 12}),
                                         (BUSY, devs[1], "backlog", {"journal": 900})],
                                  [], [], now)
    consultation, _token = add_consultation(db, BUSY)
    idea_ids = []
    for text, status, reason in IDEAS:
        idea_ids.append(ideas.post(conn, BUSY, text, "fr"))
        ideas.answer(conn, idea_ids[-1], status, reason)
    conn.conn.close()
    return {"url": stack["base"] + "/screen/%s?key=%s" % (BUSY, link["key"]),
            "kiosks": devs, "alerts": opened, "consultation": consultation, "ideas": idea_ids}


def figure(page, name):
    return page.locator('[data-figure="%s"]' % name).inner_text()


TV_SIZES = ((1280, 720), (1920, 1080))
# Elements drawn outside the window, or outside the card that holds them
# (a card clips what overflows it: a TV cannot scroll).
OUT_OF_VIEW = """() => {
  const W = innerWidth, H = innerHeight, out = [];
  const name = el => el.tagName + (el.id ? '#' + el.id : '') + ' ' +
                     (el.textContent || '').trim().slice(0, 30);
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    if (r.left < -0.5 || r.top < -0.5 || r.right > W + 0.5 || r.bottom > H + 0.5) {
      out.push('window: ' + name(el)); continue;
    }
    const card = el.parentElement && el.parentElement.closest('.card');
    if (card) {
      const c = card.getBoundingClientRect();
      if (r.bottom > c.bottom + 0.5 || r.right > c.right + 0.5) out.push('card: ' + name(el));
    }
  }
  return out;
}"""


def assert_fits(page, width, height):
    """Nothing outside the window nor outside its card, and the main text
    (the score, its word, the count of responses) at least 3% of the
    screen's height: readable at 3 m."""
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(OUT_OF_VIEW) == [], (width, height)
    main = page.locator('[data-figure="kiosk-index"], [data-main]')
    assert main.count() >= 3
    for i in range(main.count()):
        px = float(main.nth(i).evaluate("e => getComputedStyle(e).fontSize")[:-2])
        assert px >= 0.03 * height, (main.nth(i).inner_text(), px)


def test_the_screen_fits_a_tv_and_has_a_morning_view(stack, artifacts_dir):
    """Before the day's first vote, at 1280x720 and 1920x1080: nothing
    outside the screen, main text at least 3% of its height, the colour
    legend, yesterday's result and the week."""
    for width, height in TV_SIZES:
        page = stack["browser"].new_page(viewport={"width": width, "height": height})
        page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
        page.screenshot(path=os.path.join(artifacts_dir, "screen-morning-%dx%d.png"
                                          % (width, height)))
        assert_fits(page, width, height)
        assert page.locator("[data-main]").count() >= 3  # with yesterday's recall
        assert page.locator(".alert-banner, .consultation-card, .ideas-card").count() == 0
        assert "Pas encore de réponse aujourd'hui" in page.locator(".main").inner_text()
        assert figure(page, "yesterday-index") == "89 sur 100"
        week = page.locator("svg.week")
        assert week.get_attribute("role") == "img"
        assert "89" in week.get_attribute("aria-label")  # yesterday, in the text alternative
        legend = page.locator("ul.legend li").all_inner_texts()
        assert [x.split(" ")[0] for x in legend] == ["75", "50", "0", "moins"]
        page.close()


def test_votes_published_over_mqtt_show_within_2_s(stack, artifacts_dir):
    page = stack["browser"].new_page(viewport={"width": 1920, "height": 1080})
    refused = []  # what the page's Content-Security-Policy blocked, if anything
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert figure(page, "kiosk-n") == "0"
    assert figure(page, "kiosk-index") == "—"
    page.wait_for_selector("#live:not(.down)")
    # 9 votes: still no score (under 10 responses)
    stack["kiosk"].send(1, [3, 3, 3, 2, 2, 2, 1, 0, 3])
    expect(page.locator('[data-figure="kiosk-n"]')).to_have_text("9", timeout=LIVE_TIMEOUT_MS)
    assert figure(page, "kiosk-index") == "—"
    # 3 more: 12 responses, levels 3x5, 2x4, 1x2, 0x1:
    # (5*100 + 4*66.67 + 2*33.33 + 0) / 12 = 833.3 / 12 = 69.4
    stack["kiosk"].send(10, [3, 2, 1])
    expect(page.locator('[data-figure="kiosk-n"]')).to_have_text("12", timeout=LIVE_TIMEOUT_MS)
    assert figure(page, "kiosk-index") == "69,4"
    assert "À confirmer" in page.locator(".main").inner_text()
    assert "Moyen" in page.locator(".main").inner_text()  # 69.4: the plain word of its colour
    assert page.locator(".morning-view").count() == 0  # the day has begun
    page.screenshot(path=os.path.join(artifacts_dir, "screen-1920x1080.png"))
    assert_fits(page, 1920, 1080)
    assert "Attente trop longue" not in page.content()  # QR comments: managers only
    assert page.locator('[data-topic="attente"]').inner_text() == "1"
    assert "Téléphone" in page.locator(".mystery-card").inner_text()
    page.set_viewport_size({"width": 1280, "height": 720})
    page.screenshot(path=os.path.join(artifacts_dir, "screen-1280x720.png"))
    assert_fits(page, 1280, 720)
    assert serious(page) == []
    assert refused == []  # the live updates run under the CSP: no inline code
    page.close()


def test_the_screen_fits_a_tv_with_alerts_a_consultation_and_ideas(stack, busy,
                                                                   artifacts_dir):
    """Every card at once, at both TV sizes, before the day's first vote
    and after it, then the consultation and ideas without the banner, then
    the banner alone: nothing outside the screen or its card, main text at
    least 3% of the height, axe clean, and the live update redraws the
    panel with its cards each time."""
    page = stack["browser"].new_page(viewport={"width": 1920, "height": 1080})
    refused = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.goto(busy["url"])
    page.wait_for_selector("#live:not(.down)")

    def check(state, banner, news):
        assert page.locator(".alert-banner [data-alert]").count() == banner
        assert page.locator(".consultation-card").count() == news
        assert page.locator(".ideas-card li").count() == (len(IDEAS) if news else 0)
        assert page.locator(".health .kiosks li").count() == 4
        shown = ([".alert-banner li"] if banner else []) + (
            [".consultation-card .turnout", ".ideas-card li"] if news else [])
        for width, height in TV_SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(artifacts_dir, "screen-busy-%s-%dx%d.png"
                                              % (state, width, height)))
            assert_fits(page, width, height)
            for card in shown:
                assert page.locator(card).first.is_visible(), (card, width)
            # with the fourth column, the comparison keeps scores and gaps only
            counts = page.locator(".compare tr").first.locator("td").nth(1)
            assert counts.is_visible() != bool(news), width
            if news:  # the long idea shows its first two lines
                long = page.locator("q.idea", has_text="Des chaises")
                assert long.evaluate("e => e.scrollHeight > e.clientHeight && e.clientHeight"
                                     " < 3 * parseFloat(getComputedStyle(e).fontSize)"), width
        assert serious(page) == []

    assert "Pas encore de réponse aujourd'hui" in page.locator(".main").inner_text()
    assert "batterie faible" in page.locator(".alert-banner").inner_text()
    assert "Parc des Tilleuls" in page.locator(".consultation-card").inner_text()
    check("morning", banner=2, news=1)
    # The day's first votes, counted by the server: the open screen redraws
    # the whole panel, cards included, without a reload.
    before = figure(page, "updated")
    conn = open_db(stack["db"])
    conn.conn.execute("BEGIN IMMEDIATE")
    rollup.apply_votes(conn.conn, [dict(site_id=BUSY, utc_ms=int(time.time() * 1000), level=lv,
                                        scale=4, flags=0) for lv in [3] * 9 + [2] * 3])
    conn.conn.execute("COMMIT")
    expect(page.locator('[data-figure="kiosk-n"]')).to_have_text("12", timeout=5000)
    assert page.locator(".morning-view").count() == 0
    assert figure(page, "updated") != before
    check("day", banner=2, news=1)
    # The kiosks are mended and the alerts end: the banner goes, live.
    now = int(time.time() * 1000)
    conn.conn.execute("UPDATE kiosk_status SET battery_pct = 90, journal = 0")
    alerts.apply_changes(conn, [], [], busy["alerts"], now)
    page.locator(".alert-banner").wait_for(state="detached", timeout=5000)
    check("news", banner=0, news=1)
    # The ideas withdrawn, the consultation closed, a battery low again:
    # the banner alone.
    for idea in busy["ideas"]:
        ideas.moderate(conn, idea, False)
    consultation_cli(stack["db"], "close", str(busy["consultation"]))
    dev = busy["kiosks"][0]
    conn.conn.execute("UPDATE kiosk_status SET battery_pct = 12 WHERE device_id = ?", (dev,))
    alerts.apply_changes(conn, [(BUSY, dev, "battery", {"battery_pct": 12})], [], [], now)
    conn.conn.close()
    page.locator(".alert-banner").wait_for(timeout=5000)
    check("alert", banner=1, news=0)
    assert refused == []
    page.close()


def test_phone_english_and_accessibility(stack, artifacts_dir):
    page = stack["browser"].new_page(viewport={"width": 390, "height": 844})
    page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Satisfaction today" in page.locator("h2#h-today").inner_text()
    # no horizontal scrolling on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=os.path.join(artifacts_dir, "screen-phone.png"), full_page=True)
    assert serious(page) == []
    page.close()


def test_wrong_and_revoked_links_are_refused(stack):
    page = stack["browser"].new_page()
    resp = page.goto(stack["base"] + "/screen/%s?key=not-the-key" % SITE)
    assert resp.status == 403
    assert "Accès refusé" in page.content()
    resp = page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
    assert resp.status == 200
    borne("screen", "link", "revoke", str(stack["link"]["id"]), "--db", stack["db"])
    # the open stream ends at its next refresh; a reload is refused
    resp = page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
    assert resp.status == 403
    page.close()


def test_manager_view_in_the_browser(stack, artifacts_dir):
    borne("manager", "add", "qualite", "--password-stdin", "--db", stack["db"],
          stdin="un mot de passe long\n")
    page = stack["browser"].new_page(viewport={"width": 1440, "height": 900})
    page.goto(stack["base"] + "/manager")
    assert "/manager/login" in page.url
    assert serious(page) == []
    page.get_by_label("Identifiant").fill("qualite")
    page.get_by_label("Mot de passe").fill("un mot de passe long")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/manager")
    row = page.locator("table.data tbody tr", has_text="Mairie")
    assert row.count() == 1
    assert serious(page) == []
    page.get_by_role("link", name="Mairie").click()
    page.wait_for_load_state()
    assert "Indice composite" in page.content()
    page.screenshot(path=os.path.join(artifacts_dir, "manager-site.png"), full_page=True)
    assert serious(page) == []
    with page.expect_download() as dl:
        page.get_by_role("link", name="Exporter en CSV").click()
    text = open(dl.value.path(), encoding="utf-8-sig").read()
    assert text.startswith("site_id,source,day,n,happy_index")
    page.close()
