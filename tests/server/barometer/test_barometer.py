"""The barometer: editions and registration, scores per channel and
journey step, ranks within a category, progress, trophies with ties and
eligibility, and the explanation of an award, through the command line on
a real SQLite database with real mystery imports and rollups."""
import asyncio
import csv
import datetime
import io
import json
import os
import re
import shutil
import subprocess

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sync_server.barometer import editions, scores
from sync_server.barometer.compute import compute
from sync_server.commands import cli
from sync_server.mystery import audits
from sync_server.storage import barometer as store
from sync_server.storage import organisations, registry, rollup
from sync_server.storage.connection import open_db
from sync_server.web import access, pdf
from sync_server.web.app import make_app
from tests import realparts
from tests.server.web.support import PASSWORD, log_in
from tests.server.web.test_screen_api import Votes, noon_ms

TODAY = datetime.date.today()
YEAR = TODAY.year
# name, kind, population, this year (kiosk level, QR level, failed introductions,
# tests), last year (the same, or None)
ORGS = (
    ("Villeneuve", "commune", 5000, (3, 2, 0, 6), (3, 2, 0, 6)),
    ("Bourg", "commune", 3000, (2, 3, 3, 6), (1, 1, 0, 6)),
    ("Médiathèque", "library", None, (3, 3, 0, 6), None),
    ("Bibliothèque Sud", "library", None, (3, 3, 0, 6), None),
    ("Hameau", "commune", 500, (3, 3, 0, 2), None),
)


def seed(db, tmp, year, day0, which):
    votes = Votes(db)
    lines = ["test_id,site,date,time,channel,step,rings,TEL_PRESENTATION,COURTOISIE"]
    for name, _kind, _pop, now, before in ORGS:
        data = now if which == "now" else before
        if data is None:
            continue
        site = site_of(name)
        kiosk, qr, failed, tests = data
        votes.add(site, {kiosk: 20}, noon_ms(day0), device="k-%s-%d" % (site, year))
        c = db.conn
        c.execute("BEGIN IMMEDIATE")
        rollup.apply_votes(c, [dict(site_id=site, utc_ms=noon_ms(day0), level=qr, scale=4,
                                    flags=0)] * 10, source="qr")
        c.execute("COMMIT")
        for i in range(tests):
            lines.append("%s-%d-%d,%s,%s,10:00,téléphone,accès,3,%s,oui" % (
                site, year, i, site, day0 - datetime.timedelta(i),
                "non" if i < failed else "oui"))
    path = tmp / ("vague-%d.csv" % year)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audits.import_file(db, str(path)).errors == []


def site_of(name):
    return "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) or "x"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("barometer")
    path = tmp / "borne.db"
    db = open_db(path)
    for name, kind, pop, _now, _before in ORGS:
        org = organisations.add_org(db, name, kind, pop)
        registry.add_site(db.conn, site_of(name), name)
        organisations.set_site_org(db, site_of(name), org)
    return {"path": str(path), "db": db, "tmp": tmp}


def borne(capsys, monkeypatch, *argv):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_editions_scores_ranks_progress_and_trophies(env, capsys, monkeypatch):
    db, path = env["db"], env["path"]
    # Last year's edition, registered before its deadline.
    editions.add(db, YEAR - 1)
    for name, *_rest, before in ORGS:
        if before:
            editions.register(db, YEAR - 1, organisations.org_id(db, name),
                              today=datetime.date(YEAR - 1, 12, 1))
    with pytest.raises(ValueError, match="closed on %d-12-31" % (YEAR - 1)):
        editions.register(db, YEAR - 1, organisations.org_id(db, "Hameau"))
    code, out, err = borne(capsys, monkeypatch, "barometer", "edition", "add", str(YEAR),
                           "--db", path)
    assert code in (0, None), err
    assert "registration until %d-12-31" % YEAR in out
    code, out, err = borne(capsys, monkeypatch, "barometer", "register", "--edition", str(YEAR),
                           *[o[0] for o in ORGS], "--db", path)
    assert code in (0, None) and out.count("registered for edition") == 5, err
    code, _out, err = borne(capsys, monkeypatch, "barometer", "register", "--edition",
                            str(YEAR), "Nowhere", "--db", path)
    assert code == 2 and "unknown organisation" in err

    last_year = datetime.date(YEAR - 1, 6, 30)
    seed(db, env["tmp"], YEAR - 1, last_year, "before")
    seed(db, env["tmp"], YEAR, TODAY - datetime.timedelta(1), "now")
    code, _out, err = borne(capsys, monkeypatch, "barometer", "compute", "--edition",
                            str(YEAR - 1), "--db", path)
    assert code in (0, None), err
    code, out, err = borne(capsys, monkeypatch, "barometer", "compute", "--edition", str(YEAR),
                           "--json", "--db", path)
    assert code in (0, None), err
    summary = json.loads(out)
    assert (summary["organisations"], summary["eligible"]) == (5, 4)  # Hameau: 2 tests

    res = {r["name"]: r for r in store.results(db, YEAR)}
    sc = {name: store.scores(db, YEAR)[res[name]["org_id"]] for name in res}
    # Villeneuve: desk = kiosk 100 (no desk audit), smartphone = QR 66.7, phone 100
    # (introduction w1, courtesy w2, answered within 5 rings w2, all passed)
    assert sc["Villeneuve"]["channel:desk"] == (100.0, 20)
    assert sc["Villeneuve"]["channel:smartphone"] == (66.7, 10)
    assert sc["Villeneuve"]["channel:phone"] == (100.0, 18)
    assert sc["Villeneuve"]["channel:email"] == (None, 0)
    assert sc["Villeneuve"]["composite"] == (88.9, 3)  # (100 + 66.7 + 100) / 3
    # Bourg: introduction failed 3 times of 6: (3 + 2 x 6 + 2 x 6) / (6 + 12 + 12) = 90
    assert sc["Bourg"]["channel:phone"] == (90.0, 18)
    # steps: access = answered within 5 rings (w2) 6 of 6 ... orientation = introduction 3/6
    assert sc["Bourg"]["step:orientation"] == (50.0, 6)
    assert sc["Bourg"]["composite"] == (85.6, 3)  # (66.7 + 100 + 90) / 3
    assert (res["Villeneuve"]["category"], res["Villeneuve"]["rank"]) == ("commune/2000-9999", 1)
    assert (res["Bourg"]["category"], res["Bourg"]["rank"]) == ("commune/2000-9999", 2)
    # ties share a rank
    assert res["Médiathèque"]["rank"] == res["Bibliothèque Sud"]["rank"] == 1
    # progress: last year Bourg was (33.3 + 33.3 + 100) / 3 = 55.5
    assert res["Bourg"]["progress"] == pytest.approx(85.6 - 55.5, abs=0.05)
    assert res["Villeneuve"]["progress"] == 0.0
    assert res["Médiathèque"]["progress"] is None
    assert (res["Hameau"]["eligible"], res["Hameau"]["rank"]) == (0, 1)

    won = {}
    for a in store.awards(db, YEAR):
        won.setdefault(a["award"], []).append(a["name"])
    assert won["category:commune/2000-9999"] == ["Villeneuve"]
    assert won["category:library"] == ["Bibliothèque Sud", "Médiathèque"]  # a tie: shared
    assert "category:commune/under-2000" not in won  # Hameau is not eligible
    assert won["progress"] == ["Bourg"]
    assert won["channel:smartphone"] == ["Bibliothèque Sud", "Bourg", "Médiathèque"]

    code, out, err = borne(capsys, monkeypatch, "barometer", "explain",
                           "category:commune/2000-9999", "--edition", str(YEAR), "--db", path)
    assert code in (0, None), err
    assert "Villeneuve" in out and "best composite score of its category" in out
    assert "runner-up: Bourg, composite 85.6" in out
    assert "channel:phone" in out and "100.0" in out
    code, out, err = borne(capsys, monkeypatch, "barometer", "explain", "progress", "--edition",
                           str(YEAR), "--json", "--db", path)
    (award,) = json.loads(out)
    assert award["name"] == "Bourg" and award["evidence"]["previous"] == 55.5
    code, _out, err = borne(capsys, monkeypatch, "barometer", "explain", "best-of-show",
                            "--edition", str(YEAR), "--db", path)
    assert code == 2 and "no award" in err and "progress" in err
    # Computing again gives the same awards (the stored ones are replaced).
    again = borne(capsys, monkeypatch, "barometer", "compute", "--edition", str(YEAR), "--json",
                  "--db", path)[1]
    assert json.loads(again)["awards"] == summary["awards"]


def test_ranks_share_ties_and_skip():
    assert scores.ranks({1: 90.0, 2: 95.0, 3: 90.0, 4: None, 5: 80.0}) == {
        1: 2, 2: 1, 3: 2, 4: None, 5: 4}


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """A second database, both editions computed through the Python API."""
    tmp = tmp_path_factory.mktemp("reports")
    path = tmp / "borne.db"
    db = open_db(path)
    for name, kind, pop, _now, _before in ORGS:
        org = organisations.add_org(db, name, kind, pop)
        registry.add_site(db.conn, site_of(name), name)
        organisations.set_site_org(db, site_of(name), org)
    for year in (YEAR - 1, YEAR):
        editions.add(db, year)
        for name, *_rest, before in ORGS:
            if year == YEAR or before:
                editions.register(db, year, organisations.org_id(db, name),
                                  today=datetime.date(year, 12, 1))
    seed(db, tmp, YEAR - 1, datetime.date(YEAR - 1, 6, 30), "before")
    seed(db, tmp, YEAR, TODAY - datetime.timedelta(1), "now")
    compute(db, YEAR - 1)
    compute(db, YEAR)
    return {"path": str(path), "db": db, "tmp": tmp}


def test_report_as_pdf_with_real_text_and_as_html(computed, capsys, monkeypatch):
    if not os.access(pdf.CHROMIUM, os.X_OK) or not shutil.which("pdftotext"):
        realparts.missing("chromium and pdftotext")
    out = computed["tmp"] / "bourg.pdf"
    code, _out, err = borne(capsys, monkeypatch, "barometer", "report", "--edition", str(YEAR),
                            "--org", "Bourg", "--out", str(out), "--db", computed["path"])
    assert code in (0, None), err
    assert out.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Baromètre de l'accueil %d" % YEAR in text and "Bourg" in text
    assert "Meilleure progression" in text  # its trophy
    assert "Téléphone" in text and "90,0" in text  # the phone channel's score, as text
    assert "Rang dans la catégorie commune/2000-9999 : 2 sur 2" in text
    html_path = computed["tmp"] / "bourg.html"
    borne(capsys, monkeypatch, "barometer", "report", "--edition", str(YEAR), "--org", "Bourg",
          "--out", str(html_path), "--lang", "en", "--db", computed["path"])
    html = html_path.read_text(encoding="utf-8")
    for chart in ("ranking", "distribution", "line"):
        svg = re.search(r'<svg class="%s"[^>]*role="img" aria-label="([^"]+)"' % chart, html)
        assert svg, chart
    # the trend over the editions, in its text alternative: last year 55.5, now 85.6
    assert 'aria-label="Trend per edition: %d 55.5, %d 85.6"' % (YEAR - 1, YEAR) in html
    code, _out, err = borne(capsys, monkeypatch, "barometer", "report", "--edition", str(YEAR),
                            "--org", "Bourg", "--out", str(out), "--chromium", "/nonexistent",
                            "--db", computed["path"])
    assert code == 2 and "no Chromium at /nonexistent" in err


def test_public_trophies_open_data_and_national_summary(computed):
    async def scenario(client):
        r = await client.get("/barometer/%d" % YEAR)
        html = await r.text()
        assert r.status == 200 and "Meilleure progression" in html and "Bourg" in html
        html = await (await client.get("/barometer/%d?lang=en" % YEAR)).text()
        assert "Best progress" in html and 'lang="en"' in html
        assert (await client.get("/barometer/1999")).status == 404
        assert (await client.get("/barometer/abcd")).status == 404
        r = await client.get("/barometer/%d/open-data.csv" % YEAR)
        rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        with open(os.path.join(realparts.ROOT, "docs", "BAROMETER.md"), encoding="utf-8") as f:
            documented = re.findall(r"^\| `([a-z_]+)` \|", f.read().split("## Open data")[1],
                                    re.M)
        assert rows[0] == documented
        bourg = dict(zip(rows[0], next(r for r in rows if r[1] == "Bourg")))
        assert (bourg["composite"], bourg["rank"], bourg["channel_phone"]) == ("85.6", "2", "90.0")
        assert bourg["channel_email"] == "" and "progress" in bourg["awards"].split()
        r = await client.get("/manager/barometer/%d" % YEAR, allow_redirects=False)
        assert r.status == 302  # managers only
        await log_in(client, "network")
        html = await (await client.get("/manager/barometer/%d" % YEAR)).text()
        assert "commune/2000-9999" in html and "Médiathèque" in html
    access.add_manager(computed["db"], "network", PASSWORD)

    async def main():
        async with TestClient(TestServer(make_app(computed["path"]))) as client:
            await scenario(client)
    asyncio.run(main())
