"""The demo's internal poll against the real `borne serve`: simulated agents
answer through the real team pages, the poll is closed, and the results
follow the anonymity rules (the site of 4 hidden, and the smallest site
shown with it), the mirror has the agents' figures and the screen shows the
answered idea."""
import json
import random
import urllib.request

import pytest

from simulator import demo_sites, demo_staff, register
from sync_server.polls import lifecycle, results
from sync_server.storage import polls as poll_store
from sync_server.storage.connection import connect
from sync_server.web import access
from tests import realparts
from tests.server_support import Server


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staff")
    db = str(tmp / "borne.db")
    for site in demo_sites.SITES:
        register.borne("site", "add", site["id"], "--name", site["name"], "--db", db)
    port = realparts.free_port()
    srv = Server(db, "--http", "127.0.0.1:%d" % port, "--broker-port", "0").start(timeout=30)
    base = "http://127.0.0.1:%d" % port
    try:
        links, stored = demo_staff.run(base, db, demo_sites.SITES, random.Random(3),
                                       register.borne)
        yield {"db": db, "base": base, "links": links, "stored": stored}
    finally:
        srv.stop()


def test_agents_answered_through_the_pages_and_the_rules_hold(demo):
    assert demo["stored"] == sum(demo_staff.STAFF.values())
    conn = connect(demo["db"])
    polls = poll_store.list_polls(conn)
    closed = next(p for p in polls if p["state"] == "closed")
    assert next(p for p in polls if p["state"] == "open")["title_en"] == "Question of the week"
    res = results.poll_results(conn, lifecycle.get(conn, closed["id"]))
    shown = {g["site_id"]: (g["n"], g["shown"]) for g in res["groups"]}
    assert shown == {"mairie-centre": (9, True), "mediatheque-jules-verne": (6, False),
                     "solidarites-nord": (4, False)}
    assert res["total"]["shown"] and res["total"]["n"] == 19
    assert conn.execute("SELECT count(*) FROM poll_devices").fetchone()[0] == 0
    assert {t["state"] for t in poll_store.texts(conn, closed["id"])} == {"approved"}


def test_the_demo_links_open_the_team_pages_and_the_screen_shows_the_answer(demo):
    url = demo["links"]["mairie-centre"]
    with urllib.request.urlopen(url, timeout=10) as r:
        page = r.read().decode()
    assert "Question de la semaine" in page and "Écran commandé" in page
    conn = connect(demo["db"])
    _id, key = access.add_link(conn, "mairie-centre")
    with urllib.request.urlopen(demo["base"] + "/screen/mairie-centre/data.json?key=" + key,
                                timeout=10) as r:
        data = json.loads(r.read())
    assert data["ideas"][0]["status"] == "planned"
