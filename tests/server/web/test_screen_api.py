"""The satisfaction API, the screen's access rules and live stream, and the
manager view, on the real application over real HTTP and SQLite."""
import asyncio
import csv
import datetime
import http.client
import io
import json
import re
import subprocess
import time
import zoneinfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.storage import rollup
from sync_server.storage.connection import open_db
from sync_server.web import access as screen_access
from sync_server.web.app import make_app
from tests.realparts import free_port
from tests.server.web.support import add_three_sites
from tests.server_support import BORNE, Server

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PASSWORD = "un mot de passe long"


def today_paris():
    return datetime.datetime.now(PARIS).date()


def noon_ms(day, hour=12):
    return int(datetime.datetime.combine(day, datetime.time(hour), PARIS).timestamp() * 1000)


class Votes:
    """Stores kiosk votes as ingest does (insert + apply_votes, one transaction)."""

    def __init__(self, db):
        self.db = db
        self.seq = 0

    def add(self, site, levels_counts, utc_ms, scale=4, flags=0, device="k1"):
        rows = []
        for level, n in levels_counts.items():
            for _ in range(n):
                self.seq += 1
                rows.append(dict(device_id=device, seq=self.seq, site_id=site, utc_ms=utc_ms,
                                 level=level, scale=scale, flags=flags))
        c = self.db.conn
        c.execute("BEGIN IMMEDIATE")
        c.executemany(
            "INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
            " flags, received_ms) VALUES (:device_id, :seq, :site_id, 1, :utc_ms, :utc_ms,"
            " :level, :scale, :flags, 0)", rows)
        rollup.apply_votes(c, rows)
        c.execute("COMMIT")


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "borne.db"
    db = open_db(path)
    add_three_sites(db)
    db.conn.execute("INSERT INTO kiosks (id, site_id, secret_hash, created_ms) VALUES"
                    " ('k1', 'mairie', 'x', 0), ('k2', 'mairie', 'x', 0)")
    db.conn.execute("INSERT INTO kiosk_status (device_id, state, last_seen_ms, battery_pct,"
                    " journal) VALUES ('k2', 'online', ?, 9, 140)", (int(time.time() * 1000),))
    _id, key = screen_access.add_link(db, "mairie", "accueil")
    screen_access.add_manager(db, "qualite", PASSWORD)
    return {"path": path, "db": db, "key": key, "votes": Votes(db)}


def run(env, scenario):
    """Run scenario(client) against the real app on a real port."""
    async def main():
        app = make_app(env["path"])
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)
    return asyncio.run(main())


async def login_form(client, **fields):
    """Fill in the login page's form (its CSRF field included) and post it."""
    page = await (await client.get("/manager/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return await client.post("/manager/login", data={"csrf": token, **fields},
                             allow_redirects=False)


async def login(client):
    r = await login_form(client, username="qualite", password=PASSWORD)
    assert r.status == 302
    return r


def happyornot(env, day):
    # 126 very happy, 60 happy, 16 unhappy, 17 very unhappy -> 78.2
    env["votes"].add("mairie", {3: 126, 2: 60, 1: 16, 0: 17}, noon_ms(day, 10))
    env["votes"].add("mairie", {0: 3}, noon_ms(day, 11), flags=4)  # a burst, set aside


def test_satisfaction_api(env):
    day = today_paris()
    happyornot(env, day)
    env["votes"].add("mairie", {3: 10, 0: 10}, noon_ms(day - datetime.timedelta(1)))
    key = env["key"]

    async def scenario(client):
        r = await client.get("/api/v1/sites/mairie/satisfaction?from=%s&to=%s&key=%s"
                             % (day, day, key))
        assert r.status == 200
        body = await r.json()
        k = body["sources"]["kiosk"]
        assert (k["happy_index"], k["n"], k["status"]) == (78.2, 219, "ok")
        assert k["counts"] == {"4": [17, 16, 60, 126]}
        assert k["positive_share"] == 0.8493 and k["positive_interval"] == [0.7959, 0.8906]
        assert (k["filtered"], k["filtered_share"]) == (3, round(3 / 222, 4))
        assert [h["n"] for h in k["hourly"]][10] == 219 and len(k["hourly"]) == 24
        assert body["sources"]["qr"]["status"] == "insufficient"
        assert body["composite"]["status"] == "insufficient"
        assert body["composite"]["weights"] == {"kiosk": 0.4, "qr": 0.3, "mystery": 0.3}
        # previous period: the day before, 10 at 100 and 10 at 0 = 50.0
        assert body["previous"]["from"] == str(day - datetime.timedelta(1))
        assert body["previous"]["sources"]["kiosk"]["happy_index"] == 50.0
        # every figure traces back to rollup rows, and those to the raw votes
        r = await client.get("/api/v1/sites/mairie/satisfaction?from=%s&to=%s&key=%s"
                             "&source=kiosk&trace=1" % (day, day, key))
        trace = (await r.json())["trace"]
        rows = trace["rollup_rows"]
        assert sorted((r[4], r[5], r[6]) for r in rows) == [
            (0, 0, 17), (0, 4, 3), (1, 0, 16), (2, 0, 60), (3, 0, 126)]
        assert {(r[0], r[1], r[2]) for r in rows} <= {(str(day), 10, "kiosk"),
                                                      (str(day), 11, "kiosk")}
        # raw votes are not for a screen key: a manager (or an API token) reads them
        r = await client.get(trace["raw_votes"] + "&limit=1000&key=" + key)
        assert r.status == 401
        await login(client)
        r = await client.get(trace["raw_votes"] + "&limit=1000")
        assert r.status == 200
        raw = await r.json()
        assert len(raw["votes"]) == 222 and raw["next"] is None
        # one source only, and shrinkage said in the answer
        r = await client.get("/api/v1/sites/mairie/satisfaction?from=%s&to=%s&key=%s"
                             "&source=kiosk&shrink=1" % (day, day, key))
        body = await r.json()
        assert list(body["sources"]) == ["kiosk"] and body["shrinkage"] is True
        assert body["sources"]["kiosk"]["shrunk"]["network_mean"] == 78.2
        # refusals, as JSON errors
        client.session.cookie_jar.clear()
        for url, status, words in (
                ("/api/v1/sites/nowhere/satisfaction?key=" + key, 403, "does not open"),
                ("/api/v1/sites/mairie/satisfaction", 401, "log in"),
                ("/api/v1/sites/bibli/satisfaction?key=" + key, 403, "does not open"),
                ("/api/v1/sites/mairie/satisfaction?from=2026-13-01&key=" + key, 400, "from"),
                ("/api/v1/sites/mairie/satisfaction?from=2026-02-01&to=2026-01-01&key=" + key,
                 400, "after"),
                ("/api/v1/sites/mairie/satisfaction?source=tv&key=" + key, 400, "source"),
                ("/api/v1/ranking", 401, "manager")):
            r = await client.get(url)
            assert r.status == status, url
            err = (await r.json())["error"]
            assert err["status"] == status and words in err["message"], url
    run(env, scenario)


def test_manager_login_ranking_drilldown_and_csv(env):
    day = today_paris()
    happyornot(env, day)
    env["votes"].add("bibli", {3: 5, 2: 5, 1: 5, 0: 5}, noon_ms(day))     # 50.0, indicative
    env["votes"].add("annexe", {3: 4}, noon_ms(day))                      # too few

    async def scenario(client):
        r = await client.get("/manager", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/manager/login")
        r = await login_form(client, username="qualite", password="wrong password")
        assert r.status == 401 and "incorrect" in await r.text()
        # a form posted from elsewhere carries no valid CSRF field
        r = await client.post("/manager/login", headers={"Origin": "http://evil.example"},
                              data={"username": "qualite", "password": PASSWORD})
        assert r.status == 403 and "expiré" in await r.text()
        r = await login(client)
        cookie = r.cookies[screen_access.SESSION_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Strict"
        q = "from=%s&to=%s" % (day, day)
        r = await client.get("/api/v1/ranking?" + q)
        ranks = [(s["site"], s["rank"], s["happy_index"]) for s in (await r.json())["sites"]]
        assert ranks == [("mairie", 1, 78.2), ("bibli", 2, 50.0), ("annexe", None, None)]
        html = await (await client.get("/manager?" + q)).text()
        assert html.index("Mairie") < html.index("Bibliothèque") < html.index("Annexe")
        r = await client.get("/manager?from=23/11/2026")
        assert r.status == 400
        assert "La date de début doit s&#39;écrire AAAA-MM-JJ" in await r.text()
        r = await client.get("/manager?from=2026-02-01&to=2026-01-01&lang=en")
        assert r.status == 400 and "The start date must not be after" in await r.text()
        assert "78,2" in html
        html = await (await client.get("/manager?%s&lang=en" % q)).text()
        assert 'lang="en"' in html and "78.2" in html
        r = await client.get("/manager/ranking.csv?" + q)
        assert r.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        assert [(x["site_id"], x["happy_index"], x["n"], x["status"]) for x in rows] == [
            ("mairie", "78.2", "219", "ok"), ("bibli", "50.0", "20", "indicative"),
            ("annexe", "", "4", "insufficient")]
        assert rows[0]["positive_low95"] == "0.7959" and rows[0]["filtered"] == "3"
        html = await (await client.get("/manager/sites/mairie?" + q)).text()
        assert "78,2" in html and "données insuffisantes" in html
        r = await client.get("/manager/sites/mairie/daily.csv?" + q)
        rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        assert rows[1] == ["mairie", "kiosk", str(day), "219", "78.2"]
        # a manager opens any site's screen without a link
        assert (await client.get("/screen/bibli")).status == 200
        r = await client.post("/manager/logout", allow_redirects=False)
        assert r.status == 403  # no CSRF field: still logged in
        page = await (await client.get("/manager?" + q)).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = await client.post("/manager/logout", data={"csrf": token}, allow_redirects=False)
        assert r.status == 302
        assert (await client.get("/api/v1/ranking?" + q)).status == 401
    run(env, scenario)


def test_screen_content_health_comments_and_escaping(env):
    day = today_paris()
    happyornot(env, day)
    env["votes"].add("mairie", {3: 20}, noon_ms(day - datetime.timedelta(7)))
    c = env["db"].conn
    c.execute("INSERT INTO qr_answers (site_id, token, level, scale, comment, created_ms)"
              " VALUES ('mairie', 't', 0, 4, ?, ?)",
              ("Rappelez-moi au 06 12 34 56 78 ou jean.dupont@example.fr <script>alert(1)"
               "</script>", noon_ms(day)))

    async def scenario(client):
        r = await client.get("/screen/mairie?key=" + env["key"])
        html = await r.text()
        assert r.status == 200
        assert "78,2" in html and "219" in html
        # QR comments are not moderated: never on the agents' screen
        assert "Rappelez-moi" not in html and "06 12 34 56 78" not in html
        assert "<script>alert" not in html
        # same weekday last week: 20 at 100 -> today is 21.8 points below
        assert "▼ -21,8" in html
        assert "batterie faible" in html and "140 votes en attente" in html
        assert "jamais vue" in html  # k1 never reported
        # shrinkage is said on screen when used: 219 responses at 78.23 and a
        # network of this site alone, so the score stays 78.2
        html = await (await client.get("/screen/mairie?shrink=1&key=" + env["key"])).text()
        assert "Score ajusté vers la moyenne du réseau (30 réponses fictives à 78,2)" in html
        assert "shrink=1" in html.split('data-events="', 1)[1].split('"', 1)[0]
        assert "Score ajusté" not in await (await client.get(
            "/screen/mairie?key=" + env["key"])).text()
        data = await (await client.get("/screen/mairie/data.json?key=" + env["key"])).json()
        assert [k["problems"] for k in data["kiosks"]] == [["unknown"],
                                                           ["battery_low", "backlog"]]
        # a key opens its own site only; a manager learns that a site does not exist
        assert (await client.get("/screen/nowhere?key=" + env["key"])).status == 403
        r = await client.get("/screen/mairie/events?key=bad")
        assert r.status == 403
        r = await client.get("/static/screen_style.css")
        assert r.status == 200 and "grid" in await r.text()
        assert (await client.get("/static/screen_..%2fapp.py")).status == 404
    run(env, scenario)


async def next_panel(resp):
    """The data of the next `panel` event of an SSE stream."""
    event, data = None, []
    while True:
        line = (await resp.content.readline()).decode()
        if not line:
            return None
        line = line.rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event:
            if event == "panel":
                return "\n".join(data)
            event, data = None, []


def count_in(panel):
    return int(panel.split('data-figure="kiosk-n">', 1)[1].split("<", 1)[0])


def test_live_stream_follows_other_writers(env):
    day = today_paris()
    other = open_db(env["path"])  # a writer with its own connection, as ingest is

    async def main():
        app = make_app(env["path"])
        server = TestServer(app)
        client = TestClient(server)
        await client.start_server()
        resp = await client.get("/screen/mairie/events?key=" + env["key"])
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert count_in(await asyncio.wait_for(next_panel(resp), 10)) == 0
        Votes(other).add("mairie", {3: 2, 0: 1}, noon_ms(day))
        assert count_in(await asyncio.wait_for(next_panel(resp), 10)) == 3
        await asyncio.wait_for(client.close(), 20)

    asyncio.run(main())


def test_cli_links_and_managers(env):
    path = str(env["path"])

    def borne(*argv, stdin=None):
        return subprocess.run([BORNE, *argv, "--db", path], capture_output=True, text=True,
                              input=stdin, timeout=60)

    out = borne("screen", "link", "add", "bibli", "--json", "--base-url", "https://x.fr/")
    assert out.returncode == 0
    made = json.loads(out.stdout)
    assert made["url"] == "https://x.fr/screen/bibli?key=" + made["key"]
    assert screen_access.link_ok(env["db"], "bibli", made["key"])
    assert not screen_access.link_ok(env["db"], "mairie", made["key"])
    listed = json.loads(borne("screen", "link", "list", "--json").stdout)
    assert [x["site_id"] for x in listed] == ["mairie", "bibli"]
    assert made["key"] not in json.dumps(listed)  # secrets are not kept
    assert borne("screen", "link", "revoke", str(made["id"])).returncode == 0
    assert not screen_access.link_ok(env["db"], "bibli", made["key"])
    for argv, stdin, words in (
            (("screen", "link", "revoke", str(made["id"])), None, "no active screen link"),
            (("screen", "link", "add", "nowhere"), None, "unknown site"),
            (("manager", "add", "qualite", "--password-stdin"), "0123456789ab\n",
             "already exists"),
            (("manager", "add", "court", "--password-stdin"), "short\n", "at least 10")):
        out = borne(*argv, stdin=stdin)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.count("\n") == 1
    assert borne("manager", "disable", "qualite").returncode == 0
    assert asyncio.run(screen_access.login(env["db"], "qualite", PASSWORD)) is None


def test_borne_serve_stops_promptly_with_a_screen_open(env):
    # aiohttp waits up to 60 s for open streams on shutdown unless they are
    # woken; SIGTERM must still end `borne serve` within the bound below.
    port = free_port()
    srv = Server(env["path"], "--http", "127.0.0.1:%d" % port, "--broker-port", "0").start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", "/screen/mairie/events?key=" + env["key"])
        resp = conn.getresponse()
        assert resp.status == 200
        while b"event: panel" not in resp.readline():
            pass
        assert srv.terminate(timeout=20) == 0
    finally:
        conn.close()
        if srv.proc.poll() is None:
            srv.proc.kill()


def test_three_sources_and_the_composite(env, tmp_path):
    """Kiosk, QR and an imported mystery campaign make a composite by hand."""
    mystery = pytest.importorskip("sync_server.mystery.audits")
    day = today_paris()
    yesterday = day - datetime.timedelta(1)
    happyornot(env, day)                                    # kiosk 78.2
    c = env["db"].conn
    for i, level in enumerate([3] * 5 + [1] * 5):          # QR (5*100 + 5*33.3)/10 = 66.7
        c.execute("INSERT INTO qr_answers (site_id, token, level, scale, created_ms)"
                  " VALUES ('mairie', 't', ?, 4, ?)", (level, noon_ms(day) + i))
        rollup.apply_votes(c, [dict(site_id="mairie", utc_ms=noon_ms(day) + i, level=level,
                                    scale=4, flags=0)], source="qr")
    # Two phone tests. Weights: rings-within-5 2, ACCES_HORAIRES 1, ORIENTATION 2,
    # TEL_PRESENTATION 1, INFO_EXACTE 3, REPONSE_SIGNEE 1, COURTOISIE 2 (total 12).
    # T1: 3 rings, INFO_EXACTE fails -> 9 of 12; T2: 8 rings, COURTOISIE fails
    # -> 8 of 12. Compliance 17 / 24 = 70.8 %; 11 of 14 checks pass.
    path = tmp_path / "campaign.csv"
    path.write_text(
        "test_id,site,date,time,channel,step,rings,ACCES_HORAIRES,"
        "ORIENTATION_BON_INTERLOCUTEUR,TEL_PRESENTATION,INFO_EXACTE,REPONSE_SIGNEE,COURTOISIE\n"
        "T1,mairie,%s,10:00,téléphone,accès,3,oui,oui,oui,non,oui,oui\n"
        "T2,mairie,%s,11:00,téléphone,accès,8,oui,oui,oui,oui,oui,non\n"
        % (yesterday, yesterday), encoding="utf-8")
    report = mystery.import_file(env["db"], str(path))
    assert report.errors == [] and sorted(report.new) == ["T1", "T2"]

    async def scenario(client):
        r = await client.get("/api/v1/sites/mairie/satisfaction?from=%s&to=%s&key=%s"
                             % (yesterday, day, env["key"]))
        body = await r.json()
        s = body["sources"]
        assert s["qr"]["happy_index"] == 66.7 and s["qr"]["status"] == "indicative"
        m = s["mystery"]
        assert (m["passes"], m["fails"], m["score"], m["status"]) == (11, 3, 70.8, "ok")
        rings = [x for x in m["timeliness"] if x["measure"] == "rings"][0]
        assert (rings["within"], rings["total"]) == (1, 2)
        # 0.4 * 78.2 + 0.3 * 66.7 + 0.3 * 70.8 = 31.28 + 20.01 + 21.24 = 72.5
        assert body["composite"] == {"status": "ok", "value": 72.5, "missing": [],
                                     "weights": {"kiosk": 0.4, "qr": 0.3, "mystery": 0.3}}
        html = await (await client.get("/screen/mairie?key=" + env["key"])).text()
        assert "Téléphone" in html
        # newest first: T2 5 of 7 (rings and courtesy fail), then T1 6 of 7
        assert html.index("conformité 71\u00a0% (5/7)") < html.index("conformité 86\u00a0% (6/7)")
        await login(client)
        html = await (await client.get("/manager/sites/mairie?from=%s&to=%s"
                                       % (yesterday, day))).text()
        assert "72,5" in html and "Appel décroché en 5 sonneries au plus" in html
    run(env, scenario)


def test_a_failing_feature_does_not_take_the_screen_down(env, monkeypatch, caplog):
    mystery = pytest.importorskip("sync_server.mystery.audits")
    feedback = pytest.importorskip("sync_server.feedback.answers")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mystery, "results", broken)
    monkeypatch.setattr(mystery, "latest", broken)
    monkeypatch.setattr(feedback, "latest_comments", broken)
    monkeypatch.setattr("sync_server.scoring.overview.qr_topics", broken)
    happyornot(env, today_paris())

    async def scenario(client):
        r = await client.get("/screen/mairie?key=" + env["key"])
        assert r.status == 200 and "78,2" in await r.text()
        r = await client.get("/api/v1/sites/mairie/satisfaction?key=" + env["key"])
        body = await r.json()
        assert r.status == 200 and body["sources"]["mystery"]["available"] is False
        assert body["sources"]["kiosk"]["n"] == 219
    run(env, scenario)
    assert "disk on fire" in caplog.text


def test_screens_of_one_site_share_a_render(env, monkeypatch):
    from sync_server.web import screen_data
    calls = []
    real = screen_data.screen

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(screen_data, "screen", counting)

    async def main():
        app = make_app(env["path"])
        async with TestClient(TestServer(app)) as client:
            url = "/screen/mairie/events?key=" + env["key"]
            first = await client.get(url)
            await asyncio.wait_for(next_panel(first), 10)
            others = [await client.get(url) for _ in range(4)]
            for r in others:
                await asyncio.wait_for(next_panel(r), 10)
            calls.clear()
            Votes(open_db(env["path"])).add("mairie", {3: 1}, noon_ms(today_paris()))
            panels = [await asyncio.wait_for(next_panel(r), 10) for r in [first] + others]
            assert {count_in(p) for p in panels} == {1}
            # five open screens, one change: the figures are read once (twice
            # if a loaded machine spread the five wake-ups over MIN_GAP_S)
            assert 1 <= len(calls) <= 2
    asyncio.run(main())


def test_revoking_a_link_closes_its_open_screen(env):
    async def main():
        app = make_app(env["path"])
        async with TestClient(TestServer(app)) as client:
            resp = await client.get("/screen/mairie/events?key=" + env["key"])
            assert count_in(await asyncio.wait_for(next_panel(resp), 10)) == 0
            db = open_db(env["path"])
            (link_id,), = db.conn.execute("SELECT id FROM screen_links").fetchall()
            screen_access.revoke_link(db, link_id)
            Votes(db).add("mairie", {3: 1}, noon_ms(today_paris()))  # wakes the stream
            # the stream ends instead of showing the new vote
            assert await asyncio.wait_for(next_panel(resp), 10) is None
    asyncio.run(main())


def test_templates_are_read_from_disk_once(env):
    """Pages render from compiled templates kept in memory: showing a page
    again reads no template file."""
    import aiohttp_jinja2

    async def main():
        app = make_app(env["path"])
        jinja = aiohttp_jinja2.get_env(app)
        assert not jinja.auto_reload  # nor are the files checked for changes
        loader = jinja.loader
        reads = []
        real = loader.get_source

        def counting(environment, name):
            reads.append(name)
            return real(environment, name)

        loader.get_source = counting
        async with TestClient(TestServer(app)) as client:
            url = "/screen/mairie?key=" + env["key"]
            assert (await client.get(url)).status == 200
            first = list(reads)
            assert "screen_page.html" in first and "screen_panel.html" in first
            for lang in ("fr", "en", "fr"):
                assert (await client.get(url + "&lang=" + lang)).status == 200
            assert reads == first
    asyncio.run(main())
