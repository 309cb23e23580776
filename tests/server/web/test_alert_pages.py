"""The alerts in the web application, over real HTTP and SQLite: the
managers' list and its acknowledge form (CSRF), in French and English, and
the banner of the agents' screen, which a screen key shows for its own site
only."""
import asyncio
import re

from aiohttp.test_utils import TestClient, TestServer

from sync_server.alerts import evaluate
from sync_server.storage import alerts as store
from sync_server.storage import registry
from sync_server.storage.connection import now_ms, open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in


def make_env(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    for sid in ("mairie", "bibli"):
        db.conn.execute("INSERT INTO sites (id, name, created_ms) VALUES (?, ?, 0)",
                        (sid, sid.title()))
    keys = {sid: access.add_link(db, sid, "accueil")[1] for sid in ("mairie", "bibli")}
    access.add_manager(db, "qualite", PASSWORD)
    # Conditions that hold: 4 unhappy votes at the mairie, a low battery at the bibli.
    votes(db, "mairie", [0, 0, 1, 0])
    dev = registry.add_kiosk(db.conn, "bibli")[0]
    db.conn.execute("INSERT INTO kiosk_status (device_id, state, last_seen_ms, battery_pct)"
                    " VALUES (?, 'online', ?, 9)", (dev, now_ms()))
    evaluate.evaluate(db.conn, now_ms())
    alerts = {a["kind"]: a["id"] for a in store.list_alerts(db)}
    assert set(alerts) == {"spike", "battery"}
    return path, db, keys, alerts["spike"], alerts["battery"]


def votes(db, site, levels):
    dev = registry.add_kiosk(db.conn, site)[0]
    t = now_ms()
    db.conn.executemany(
        "INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale, flags,"
        " received_ms) VALUES (?, ?, ?, 1, ?, ?, ?, 4, 0, ?)",
        [(dev, i + 1, site, t - i, t - i, lv, t) for i, lv in enumerate(levels)])
    db.conn.execute("INSERT OR REPLACE INTO rollup_changes VALUES (?, 1, ?)", (site, t))


def run(path, scenario):
    async def main():
        async with TestClient(TestServer(make_app(path, alert_every_s=3600))) as client:
            return await scenario(client)
    return asyncio.run(main())


def csrf_of(page, action):
    form = re.search(r'action="%s[^"]*">.*?name="csrf" value="([^"]+)"' % re.escape(action),
                     page, re.S)
    return form.group(1)


def test_list_and_acknowledge(tmp_path):
    path, db, _keys, spike, battery = make_env(tmp_path)

    async def scenario(client):
        await log_in(client)
        page = await (await client.get("/manager/alerts")).text()
        assert 'data-alerts="2"' in page
        assert "pic d&#39;insatisfaction" in page and "batterie faible" in page
        en = await (await client.get("/manager/alerts?lang=en")).text()
        assert "dissatisfaction spike" in en and "Acknowledge" in en
        action = "/manager/alerts/%d/ack" % spike
        field = csrf_of(page, action)
        bad = await client.post(action, data={"csrf": "1.forged"})
        assert bad.status == 403 and "formulaire a expiré" in await bad.text()
        assert store.get_alert(db, spike)["state"] == "open"
        ok = await client.post(action, data={"csrf": field}, allow_redirects=False)
        assert ok.status == 303 and ok.headers["Location"] == "/manager/alerts?lang=fr"
        acked = store.get_alert(db, spike)
        assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "qualite"
        again = await client.post(action + "?lang=en", data={"csrf": field})
        assert again.status == 409 and "no longer open" in await again.text()
        other = await client.post("/manager/alerts/%d/ack" % battery, data={"csrf": field})
        assert other.status == 403  # a field made for another alert's form
        assert store.get_alert(db, battery)["state"] == "open"
        page = await (await client.get("/manager/alerts")).text()
        assert "prise en compte (qualite)" in page
        db.conn.execute("UPDATE kiosk_status SET battery_pct = 80")
        assert evaluate.evaluate(db.conn, now_ms()).resolved == [battery]
        page = await (await client.get("/manager/alerts")).text()
        assert 'data-alerts="1"' in page
        every = await (await client.get("/manager/alerts?all=1")).text()
        assert 'data-alerts="2"' in every and "terminée" in every
    run(path, scenario)


def test_the_screen_shows_its_own_sites_alerts(tmp_path):
    path, db, keys, spike, battery = make_env(tmp_path)

    async def scenario(client):
        page = await (await client.get("/screen/mairie?key=" + keys["mairie"])).text()
        assert 'class="card alert-banner"' in page and "pic d&#39;insatisfaction" in page
        assert "batterie faible" not in page  # bibli's
        data = await (await client.get("/screen/bibli/data.json?key=" + keys["bibli"])).json()
        assert [a["kind"] for a in data["alerts"]] == ["battery"]
        other = await client.get("/screen/bibli?key=" + keys["mairie"])
        assert other.status == 403
        votes(db, "mairie", [3] * 10)
        assert evaluate.evaluate(db.conn, now_ms()).resolved == [spike]
        page = await (await client.get("/screen/mairie?key=" + keys["mairie"])).text()
        assert "alert-banner" not in page
    run(path, scenario)
