"""The manager view that answers where and why: the ranking with the
composite and every source against the previous period, sortable, with a
chart; a site's trend by day or week, its weakest mystery criteria first,
its QR topics counted and its latest comments masked. On the real
application over real HTTP and SQLite."""
import asyncio
import datetime
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.mystery import audits
from sync_server.scoring import overview
from sync_server.storage import rollup
from sync_server.storage.connection import open_db
from sync_server.web import access
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, add_three_sites, log_in
from tests.server.web.test_screen_api import Votes, noon_ms, today_paris

TO = today_paris()
FROM = TO - datetime.timedelta(13)          # 14 days, the previous 14 before
PREV = FROM - datetime.timedelta(7)         # a day of the previous period
QUERY = "from=%s&to=%s" % (FROM, TO)


def qr_answers(db, site, levels, topics, at_ms, comment=""):
    c = db.conn
    c.execute("BEGIN IMMEDIATE")
    for level in levels:
        c.execute("INSERT INTO qr_answers (site_id, token, level, scale, topics, comment,"
                  " created_ms) VALUES (?, 't', ?, 4, ?, ?, ?)",
                  (site, level, topics, comment, at_ms))
    rollup.apply_votes(c, [dict(site_id=site, utc_ms=at_ms, level=lv, scale=4, flags=0)
                           for lv in levels], source="qr")
    c.execute("COMMIT")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("overview")
    path = tmp / "borne.db"
    db = open_db(path)
    add_three_sites(db)
    votes = Votes(db)
    votes.add("mairie", {3: 20}, noon_ms(TO))          # 100 now
    votes.add("mairie", {3: 10, 0: 10}, noon_ms(PREV))  # 50 before: up
    votes.add("bibli", {2: 30}, noon_ms(FROM))         # 66.7 now
    votes.add("bibli", {3: 30}, noon_ms(PREV))         # 100 before: down
    votes.add("annexe", {3: 4}, noon_ms(TO))           # too few: no score
    # QR: mairie 10 answers at 66.7 (topics counted), a comment with a phone number
    qr_answers(db, "mairie", [2] * 10, "attente,accueil", noon_ms(TO))
    qr_answers(db, "mairie", [1], "attente", noon_ms(TO),
               "Personne ne répond, rappelez-moi au 06 12 34 56 78")
    # Mystery: 6 phone tests, 2 applicable criteria each, one failing twice.
    lines = ["test_id,site,date,time,channel,step,rings,TEL_PRESENTATION,COURTOISIE"]
    for i in range(6):
        lines.append("T%d,mairie,%s,10:00,téléphone,accès,3,%s,oui"
                     % (i, TO - datetime.timedelta(i + 1), "non" if i < 2 else "oui"))
    csv_path = tmp / "vague.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audits.import_file(db, str(csv_path)).errors == []
    access.add_manager(db, "qualite", PASSWORD)
    return {"path": path, "db": db}


def run(env, scenario):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            await log_in(client)
            return await scenario(client)
    return asyncio.run(main())


def test_overview_figures_trends_and_sorting(env):
    view = overview.overview(env["db"], FROM, TO, sort="kiosk")
    rows = {r["site"]: r for r in view["sites"]}
    assert [r["site"] for r in view["sites"]] == ["mairie", "bibli", "annexe"]
    m, b = rows["mairie"], rows["bibli"]
    assert (m["kiosk"], m["kiosk_prev"], m["kiosk_trend"]) == (100.0, 50.0, "up")
    assert (b["kiosk"], b["kiosk_prev"], b["kiosk_trend"]) == (66.7, 100.0, "down")
    assert rows["annexe"]["kiosk"] is None and rows["annexe"]["kiosk_trend"] is None
    # QR: 10 x 66.7 and 1 x 33.3 = 63.6. Mystery: 6 tests x 3 criteria = 18 checks
    # (introduction, weight 1: 4 of 6; courtesy and 3 rings within 5, weight 2: 6 of 6):
    # (4 + 2 x 6 + 2 x 6) / (6 + 2 x 6 + 2 x 6) = 28 / 30 = 93.3
    assert (m["qr"], m["qr_n"], m["mystery"], m["mystery_n"]) == (63.6, 11, 93.3, 18)
    # composite: 0.4 x 100 + 0.3 x 63.6 + 0.3 x 93.3 = 87.1
    assert m["composite"] == pytest.approx(87.1, abs=0.05)
    assert b["composite"] is None  # no QR, no mystery: weights are never redistributed
    ascending = overview.overview(env["db"], FROM, TO, sort="kiosk", descending=False)
    assert [r["site"] for r in ascending["sites"]] == ["bibli", "mairie", "annexe"]
    by_name = overview.overview(env["db"], FROM, TO, sort="name", descending=False)
    assert [r["name"] for r in by_name["sites"]] == ["Annexe", "Bibliothèque", "Mairie"]
    with pytest.raises(ValueError):
        overview.overview(env["db"], FROM, TO, sort="secret")


def test_ranking_page_sorts_by_any_column_with_trends_and_a_chart(env):
    async def scenario(client):
        html = await (await client.get("/manager?%s&sort=kiosk&dir=asc" % QUERY)).text()
        body = html.split("<tbody>", 1)[1]
        assert body.index("Bibliothèque") < body.index("Mairie") < body.index("Annexe")
        assert 'aria-sort="ascending"' in html
        assert "en hausse" in html and "en baisse" in html
        chart = re.search(r'<svg class="ranking"[^>]*aria-label="([^"]+)"', html)
        assert chart and "Bibliothèque 66,7" in chart.group(1)
        for col in ("composite", "qr", "mystery", "name"):
            assert "sort=%s" % col in html
        html = await (await client.get("/manager?%s&sort=composite" % QUERY)).text()
        body = html.split("<tbody>", 1)[1]
        assert body.index("Mairie") < body.index("Annexe")
        assert "87,1" in body
        r = await client.get("/manager?%s&sort=%%27;drop" % QUERY)
        assert r.status == 200  # an unknown column sorts by the source, never a 500
    run(env, scenario)


def test_site_page_answers_why(env):
    async def scenario(client):
        html = await (await client.get("/manager/sites/mairie?" + QUERY)).text()
        line = re.search(r'<svg class="line"[^>]*aria-label="([^"]+)"', html)
        assert line and "jour" in line.group(1) and "100" in line.group(1)
        weakest = html.split('class="data weakest"', 1)[1].split("</table>", 1)[0]
        first = weakest.split("<tbody>", 1)[1].split("</tr>", 1)[0]
        assert 'class="failing"' in first and "annonce le service" in first
        assert weakest.count('class="failing"') == 1  # the others never failed
        assert re.search(r'data-topic="attente">11<', html)
        assert re.search(r'data-topic="accueil">10<', html)
        assert "06 12 34 56 78" not in html and "[numéro masqué]" in html
        assert "ne sont pas modérés" in html
        week = await (await client.get("/manager/sites/mairie?%s&unit=week" % QUERY)).text()
        line = re.search(r'<svg class="line"[^>]*aria-label="([^"]+)"', week)
        assert line and "semaine" in line.group(1)
        assert line.group(1).count(",") < 4  # 2 or 3 weeks, not 14 days
    run(env, scenario)
