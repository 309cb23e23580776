"""Organisations: a manager sees only the sites of their organisation, on
every page, API and CSV (the routes are read from the application, so a new
route is covered), and only the polls, staff ideas, consultations and alerts
of their sites: one of another organisation is neither listed, nor opened,
nor acted on; an operator sees and acts on every one; the command line; and
a database made before organisations opens with its managers as operators."""
import asyncio
import datetime
import io
import json
import re
import sqlite3

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from sync_server.alerts import evaluate
from sync_server.barometer import editions
from sync_server.barometer.compute import compute
from sync_server.commands import cli
from sync_server.consultations import model as consultation_model
from sync_server.polls import ideas, lifecycle, questions
from sync_server.storage import alerts as alert_store
from sync_server.storage import consultations as consultation_store
from sync_server.storage import organisations, registry, rollup, tokens
from sync_server.storage import polls as poll_store
from sync_server.storage.connection import connect, now_ms, open_db, split_sql, transaction
from sync_server.storage.schema import MIGRATIONS
from sync_server.web import access, audience, csrf
from sync_server.web.app import make_app
from tests.server.web.support import PASSWORD, log_in

YEAR = datetime.date.today().year
HIDDEN, HIDDEN_NAME = "alpha-hall", "Alpha Hidden Hall"
UNOWNED = "unowned-hall"
OWN, OWN_NAME = "beta-lib", "Beta Reading Room"
# Routes that list sites: an operator finds the hidden site in each.
LISTS = ("/manager", "/manager/ranking.csv", "/api/v1/sites", "/api/v1/kiosks",
         "/api/v1/ranking")
# In the texts of the hidden organisation's poll, ideas and consultation,
# and of the manager's own ones.
SECRET, MINE = "zanzibar", "quokka"
# Pages that list polls, ideas, consultations, alerts: what an operator
# finds there of the hidden organisation, what its manager finds of theirs.
OBJECT_LISTS = {"/manager/polls": (SECRET, MINE), "/manager/ideas": (SECRET, MINE),
                "/manager/consultations": (SECRET, MINE),
                "/manager/alerts": (HIDDEN_NAME, OWN_NAME)}
# Path parameters that name an object of the hidden organisation.
HIDDEN_PARAMS = ("site_id", "org_id", "poll_id", "text_id", "idea_id", "cid", "alert_id")


def add_objects(db, hidden, own):
    """A poll with a free answer, a staff idea, a consultation with an idea
    and an open alert (a kiosk's low battery) at the `hidden` sites, the same of `own`; the ids of
    the hidden ones."""
    today = datetime.date.today()
    ids = {}
    for sites, mark in ((hidden, SECRET), (own, MINE)):
        poll_id = lifecycle.create(db.conn, "Sondage %s" % mark, "Poll %s" % mark,
                                   [questions.FREE_TEXT], today.isoformat(),
                                   (today + datetime.timedelta(days=7)).isoformat(), sites)
        poll_store.add_text(db.conn, poll_id, sites[0], 0, "Réponse %s" % mark, "fr")
        idea_id = ideas.post(db.conn, sites[0], "Idée %s" % mark, "fr")
        cid = consultation_model.create(db.conn, {
            "title_fr": "Consultation %s" % mark, "title_en": "Consultation %s" % mark,
            "question_fr": "Quoi ?", "question_en": "What?", "answers": [("Oui", "Yes"),
                                                                         ("Non", "No")],
            "kiosk_answers": "2", "opens": "%s 08:00" % today, "ideas": True,
            "closes": "%s 18:00" % (today + datetime.timedelta(days=7)), "sites": sites})
        cons_idea = consultation_store.add_idea(db.conn, cid, sites[0], "Idée %s" % mark,
                                                "fr", now_ms())
        # A kiosk of the site on a low battery: an alert that stays open.
        dev = registry.add_kiosk(db.conn, sites[0])[0]
        db.conn.execute("INSERT INTO kiosk_status (device_id, state, last_seen_ms, battery_pct)"
                        " VALUES (?, 'online', ?, 9)", (dev, now_ms()))
        [alert_id] = evaluate.evaluate(db.conn, now_ms()).opened
        ids.setdefault("hidden" if mark == SECRET else "own", dict(
            poll_id=poll_id, text_id=poll_store.texts(db.conn, poll_id)[0]["id"],
            idea_id=idea_id, cid=cid, cons_idea=cons_idea, alert_id=alert_id))
    return ids["hidden"]


def hidden_state(db, ids):
    """What acting on the hidden objects would change."""
    c = db.conn
    return (alert_store.get_alert(c, ids["alert_id"])["state"],
            [t["state"] for t in poll_store.texts(c, ids["poll_id"])],
            poll_store.get_idea(c, ids["idea_id"])["moderation"],
            poll_store.get_idea(c, ids["idea_id"])["status"],
            consultation_store.get(c, ids["cid"]),
            consultation_store.get_idea(c, ids["cons_idea"])["state"],
            len(consultation_store.list_all(c)), len(poll_store.list_polls(c)))


def form_field(app, client, action):
    """The `csrf` field the server puts in a form posting to `action`, for
    this client's browser (the same cookie, the same key)."""
    nonce = client.session.cookie_jar.filter_cookies(client.make_url("/"))[csrf.COOKIE].value
    request = make_mocked_request("GET", "/", headers={"Cookie": "%s=%s" % (csrf.COOKIE, nonce)},
                                  app=app)
    return csrf.token(request, action)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    path = tmp_path_factory.mktemp("orgs") / "borne.db"
    db = open_db(path)
    alpha = organisations.add_org(db, "Alpha", "commune", 5000)
    beta = organisations.add_org(db, "Beta", "library")
    today = datetime.date.today()
    for sid, name, org in ((HIDDEN, HIDDEN_NAME, alpha), (OWN, OWN_NAME, beta)):
        registry.add_site(db.conn, sid, name)
        organisations.set_site_org(db, sid, org)
        registry.add_kiosk(db.conn, sid)
        with transaction(db.conn):
            rollup.apply_votes(db.conn, [dict(site_id=sid, utc_ms=int(
                datetime.datetime.combine(today, datetime.time(12)).timestamp() * 1000),
                level=3, scale=4, flags=0)] * 12)
        access.add_link(db, sid, "accueil")
    registry.add_site(db.conn, UNOWNED, "Nobody's Hall")  # no organisation yet
    editions.add(db, YEAR)
    for org in (alpha, beta):
        editions.register(db, YEAR, org)
    compute(db, YEAR)
    access.add_manager(db, "beta-mgr", PASSWORD, beta)
    access.add_manager(db, "network", PASSWORD)
    # The hidden poll and consultation span both organisations: a manager
    # sees one only if all its sites are theirs.
    hidden = add_objects(db, [HIDDEN, OWN], [OWN])
    return {"path": path, "db": db, "read": tokens.add_token(db, "read")[1], "alpha": alpha,
            "hidden": hidden}


def run(env, scenario):
    async def main():
        async with TestClient(TestServer(make_app(env["path"]))) as client:
            return await scenario(client)
    return asyncio.run(main())


def guarded_routes(app, alpha=1, hidden=None):
    """(method, url, names something of the hidden organisation) of every
    route but the public ones, its parameters filled in: the hidden site,
    its organisation, its poll, idea, consultation, alert (`hidden`), this
    year's edition, a file format, else 1."""
    values = {"site_id": HIDDEN, "org_id": str(alpha), "year": str(YEAR), "fmt": "csv",
              "what": "poster"}
    values.update({k: str(v) for k, v in (hidden or {}).items()})
    out = []
    for route in app.router.routes():
        canonical = route.resource.canonical
        if route.method == "HEAD" or audience.ROUTES.get(canonical) == audience.PUBLIC:
            continue
        these = dict(values)
        if "{cid}" in canonical and hidden:  # the consultation's idea
            these["idea_id"] = str(hidden["cons_idea"])
        if "{what}" in canonical:
            these["fmt"] = "svg"
        url = re.sub(r"\{([a-z_]+)\}", lambda m, v=these: v.get(m.group(1), "1"), canonical)
        out.append((route.method, url,
                    any("{%s}" % name in canonical for name in HIDDEN_PARAMS)))
    return out


async def fetch(client, method, url, headers=None):
    """(status, body) of a request; a stream is read no further than its head."""
    r = await client.request(method, url, allow_redirects=False, headers=headers)
    try:
        if r.content_type == "text/event-stream":
            return r.status, ""
        return r.status, await r.text()
    finally:
        r.close()


def test_a_manager_reads_nothing_of_another_organisation(env):
    app = make_app(env["path"])
    routes = guarded_routes(app, env["alpha"], env["hidden"])
    assert {url for _m, url, _s in routes} >= set(LISTS) | set(OBJECT_LISTS)
    before = hidden_state(env["db"], env["hidden"])

    async def scenario(client):
        await log_in(client, "beta-mgr")
        for method, url, names_hidden in routes:
            if method == "POST" and names_hidden:  # a well-formed form: refused all the same
                r = await client.post(url, allow_redirects=False, data={
                    "csrf": form_field(app, client, url), "decision": "approve",
                    "action": "approve", "state": "open", "status": "planned",
                    "reason": "vu", "title_fr": "x"})
                status, body = r.status, await r.text()
            else:
                status, body = await fetch(client, method, url)
            for text in (HIDDEN, HIDDEN_NAME, SECRET):
                assert text not in body, (method, url, text)
            if names_hidden:
                assert status in (403, 404), (method, url, status)
        for url in LISTS:  # their own site is there, not a site of no organisation
            status, body = await fetch(client, "GET", url)
            assert status == 200 and OWN in body and UNOWNED not in body, url
        for url, (_theirs, mine) in OBJECT_LISTS.items():
            status, body = await fetch(client, "GET", url + "?all=1")
            assert status == 200 and mine in body, url
        status, _ = await fetch(client, "GET", "/manager/sites/%s" % OWN)
        assert status == 200
        # The consultation form offers their sites only and takes no other.
        url = "/manager/consultations/new"
        status, body = await fetch(client, "GET", url)
        assert status == 200 and 'value="%s"' % OWN in body
        r = await client.post(url, allow_redirects=False, data={
            "csrf": form_field(app, client, url), "title_fr": "Nouvelle", "title_en": "New",
            "question_fr": "Quoi ?", "question_en": "What?", "answer_fr_0": "Oui",
            "answer_en_0": "Yes", "answer_fr_1": "Non", "answer_en_1": "No",
            "kiosk_answers": "2", "opens": "2030-01-01 08:00", "closes": "2030-01-02 08:00",
            "sites": [OWN, HIDDEN]})
        assert r.status == 400 and HIDDEN in await r.text()  # named as unknown
    run(env, scenario)
    assert hidden_state(env["db"], env["hidden"]) == before


def test_an_operator_and_an_api_token_see_every_organisation(env):
    routes = guarded_routes(make_app(env["path"]), env["alpha"], env["hidden"])

    async def scenario(client):
        await log_in(client, "network")
        for method, url, names_hidden in routes:
            if method != "GET":
                continue
            status, body = await fetch(client, method, url)
            if names_hidden and not url.startswith("/team/"):  # those need a team link
                assert status == 200, url
            if url in LISTS:
                assert status == 200 and HIDDEN in body and OWN in body, url
                assert UNOWNED in body or url == "/api/v1/kiosks", url  # it has no kiosk
        headers = {"Authorization": "Bearer " + env["read"]}
        for url in ("/api/v1/sites", "/api/v1/ranking", "/api/v1/sites/%s/votes" % HIDDEN):
            status, body = await fetch(client, "GET", url, headers)
            assert status == 200 and HIDDEN in body, url
    run(env, scenario)


def test_an_operator_lists_and_acts_on_every_organisations_objects(env):
    app = make_app(env["path"])
    ids = env["hidden"]
    cons = "/manager/consultations/%d" % ids["cid"]
    acts = [("/manager/alerts/%d/ack" % ids["alert_id"], {}),
            ("/manager/polls/%d/texts/%d" % (ids["poll_id"], ids["text_id"]),
             {"decision": "approve"}),
            ("/manager/ideas/%d" % ids["idea_id"], {"action": "approve"}),
            ("%s/ideas/%d" % (cons, ids["cons_idea"]), {"decision": "approve"}),
            (cons + "/state", {"state": "open"})]

    async def scenario(client):
        await log_in(client, "network")
        for url, (theirs, mine) in OBJECT_LISTS.items():
            status, body = await fetch(client, "GET", url)
            assert status == 200 and theirs in body and mine in body, url
        for url, data in acts:
            r = await client.post(url, allow_redirects=False,
                                  data={"csrf": form_field(app, client, url), **data})
            assert r.status == 303, (url, r.status)
    run(env, scenario)
    db = env["db"].conn
    assert alert_store.get_alert(db, ids["alert_id"])["acknowledged_by"] == "network"
    assert poll_store.texts(db, ids["poll_id"])[0]["state"] == "approved"
    assert poll_store.get_idea(db, ids["idea_id"])["moderation"] == "approved"
    assert consultation_store.get_idea(db, ids["cons_idea"])["state"] == "approved"
    assert consultation_store.get(db, ids["cid"])["state"] == "open"


def test_a_manager_without_an_organisation_sees_no_site(env):
    """A manager whose organisation row is missing sees nothing (never everything)."""
    db = env["db"]
    access.add_manager(db, "orphan", PASSWORD, 1)
    db.conn.execute("UPDATE managers SET org_id = NULL WHERE username = 'orphan'")

    async def scenario(client):
        await log_in(client, "orphan")
        for url in LISTS:
            status, body = await fetch(client, "GET", url)
            assert status == 200 and HIDDEN not in body and OWN not in body, url
        status, _ = await fetch(client, "GET", "/manager/sites/%s" % OWN)
        assert status == 404
    run(env, scenario)


class Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def test_organisations_on_the_command_line(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "b.db")

    def borne(*argv, stdin=""):
        """The `borne` command, in this process (its start-up is what costs)."""
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = cli.main(list(argv))
        except SystemExit as e:
            code = e.code
        out = capsys.readouterr()
        return Run(code, out.out, out.err)
    assert borne("site", "add", "mairie", "--name", "Mairie", "--db", db).returncode == 0
    # No organisation yet: a manager account is an operator, as before.
    assert borne("manager", "add", "ancien", "--password-stdin", "--db", db,
                 stdin=PASSWORD + "\n").returncode == 0
    out = borne("org", "add", "Villeneuve", "--type", "commune", "--db", db)
    assert out.returncode == 2 and "population" in out.stderr
    assert borne("org", "add", "Villeneuve", "--type", "commune", "--population", "12500",
                 "--db", db).returncode == 0
    assert borne("org", "add", "Médiathèque", "--type", "library", "--db", db).returncode == 0
    out = borne("org", "add", "X", "--type", "castle", "--db", db)
    assert out.returncode == 2 and "invalid choice" in out.stderr
    assert borne("site", "set", "mairie", "--org", "Villeneuve", "--db", db).returncode == 0
    assert borne("site", "add", "media", "--name", "Médiathèque", "--org", "Médiathèque",
                 "--db", db).returncode == 0
    out = borne("site", "add", "autre", "--name", "Autre", "--org", "Nulle part", "--db", db)
    assert out.returncode == 2 and "unknown organisation" in out.stderr
    assert "autre" not in borne("site", "list", "--db", db).stdout
    orgs = {r["name"]: r for r in json.loads(borne("org", "list", "--json", "--db", db).stdout)}
    assert (orgs["Villeneuve"]["band"], orgs["Villeneuve"]["sites"]) == ("10000-49999", 1)
    assert (orgs["Médiathèque"]["band"], orgs["Médiathèque"]["sites"]) == (None, 1)
    # Once organisations exist, a new account must say whose sites it sees.
    out = borne("manager", "add", "flou", "--password-stdin", "--db", db, stdin=PASSWORD + "\n")
    assert out.returncode == 2 and "--org" in out.stderr and "--operator" in out.stderr
    for argv in (("local", "--org", "Villeneuve"), ("reseau", "--operator")):
        assert borne("manager", "add", *argv, "--password-stdin", "--db", db,
                     stdin=PASSWORD + "\n").returncode == 0
    rows = {r["username"]: r for r in json.loads(
        borne("manager", "list", "--json", "--db", db).stdout)}
    assert (rows["local"]["role"], rows["local"]["organisation"]) == ("manager", "Villeneuve")
    assert (rows["reseau"]["role"], rows["ancien"]["role"]) == ("operator", "operator")
    assert "flou" not in rows
    conn = connect(db)
    vil = organisations.org_id(conn, "Villeneuve")
    assert organisations.org_site_ids(conn, vil) == {"mairie"}


def test_managers_of_an_older_database_become_operators(tmp_path):
    """Before organisations every manager saw every site: they still do."""
    path = tmp_path / "old.db"
    upto = next(i for i, m in enumerate(MIGRATIONS) if m[1].startswith("organisations:"))
    conn = sqlite3.connect(path, isolation_level=None)
    for version, _name, script in MIGRATIONS[:upto]:
        for statement in split_sql(script):
            conn.execute(statement)
        conn.execute("PRAGMA user_version=%d" % version)
    conn.execute("INSERT INTO sites (id, name, created_ms) VALUES ('mairie', 'Mairie', 0)")
    conn.execute("INSERT INTO managers (username, password_hash, created_ms)"
                 " VALUES ('qualite', 'x', 0)")
    conn.close()
    conn = connect(path)
    assert [(r["username"], r["role"], r["organisation"])
            for r in access.list_managers(conn)] == [("qualite", "operator", None)]
    assert registry.get_site(conn, "mairie")["org_id"] is None
