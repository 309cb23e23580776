"""Everyday administration: archiving a site, manager accounts, screen links
on the server's public address."""
import asyncio
import datetime
import json
import os
import subprocess
import urllib.request

from sync_server.scoring import report
from sync_server.storage import rollup, votes
from sync_server.storage.connection import connect, transaction
from sync_server.web import access
from tests.server_support import BORNE, Server, make_registry

NOW_MS = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)


def borne(*args, stdin=None, env=None):
    environ = {k: v for k, v in os.environ.items() if k not in ("BORNE_DB", "BORNE_CONFIG")}
    return subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=60,
                          input=stdin, env=dict(environ, **(env or {})))


def add_votes(db, dev, site, n):
    conn = connect(db)
    rows = [(dev, seq, site, 1, seq, NOW_MS - seq * 1000, 3, 4, 0, NOW_MS)
            for seq in range(1, n + 1)]
    with transaction(conn):
        votes.insert_votes(conn, rows)
        rollup.apply_votes(conn, [dict(site_id=site, utc_ms=r[5], level=3, scale=4, flags=0)
                                  for r in rows])
    conn.close()


def ranked(db):
    today = datetime.date.today()
    conn = connect(db)
    try:
        rows = report.ranking(conn, today - datetime.timedelta(2), today + datetime.timedelta(1))
        return [r["site"] for r in rows["sites"]]
    finally:
        conn.close()


def test_an_archived_site_keeps_its_history_leaves_the_rankings_and_its_screen_says_so(
        tmp_path):
    db = str(tmp_path / "b.db")
    (old,) = make_registry(db, 1, site="annexe")
    (kept,) = make_registry(db, 1, site="mairie")
    add_votes(db, old, "annexe", 40)
    add_votes(db, kept, "mairie", 40)
    assert sorted(ranked(db)) == ["annexe", "mairie"]

    refused = borne("site", "archive", "annexe", "--db", db)
    assert refused.returncode == 2 and "revoke them first" in refused.stderr
    assert old in refused.stderr
    assert borne("kiosk", "revoke", old, "--db", db).returncode == 0
    done = borne("site", "archive", "annexe", "--db", db)
    assert done.returncode == 0, done.stderr
    assert ranked(db) == ["mairie"]
    listed = {line.split()[0]: line for line in borne("site", "list", "--db", db).stdout
              .splitlines()}
    assert "archived" in listed["annexe"] and "archived" not in listed["mairie"]
    conn = connect(db)
    assert conn.execute("SELECT count(*) FROM votes WHERE site_id = 'annexe'"
                        ).fetchone()[0] == 40
    conn.close()
    again = borne("kiosk", "add", "--site", "annexe", "--db", db)
    assert again.returncode == 2 and "archived" in again.stderr

    link = json.loads(borne("screen", "link", "add", "annexe", "--json", "--base-url",
                            "http://127.0.0.1", "--db", db).stdout)
    server = Server(db, "--http", "127.0.0.1:0", "--broker-port", "0").start()
    try:
        url = "%s/screen/annexe?key=%s" % (server.base, link["key"])
        with urllib.request.urlopen(url, timeout=10) as r:
            page = r.read().decode()
        assert "Site archivé" in page
        with urllib.request.urlopen(url + "&lang=en", timeout=10) as r:
            assert "Archived site" in r.read().decode()
    finally:
        server.stop()

    assert borne("site", "unarchive", "annexe", "--db", db).returncode == 0
    assert sorted(ranked(db)) == ["annexe", "mairie"]


def test_manager_accounts_are_listed_disabled_enabled_and_reset(tmp_path):
    db = str(tmp_path / "b.db")
    make_registry(db, 0)
    conn = connect(db)

    def login(password):
        return asyncio.run(access.login(conn, "qualite", password))
    assert borne("manager", "add", "qualite", "--password-stdin", "--db", db,
                 stdin="premier mot de passe\n").returncode == 0
    assert borne("manager", "add", "accueil", "--password-stdin", "--db", db,
                 stdin="autre mot de passe\n").returncode == 0
    rows = json.loads(borne("manager", "list", "--json", "--db", db).stdout)
    assert [(r["username"], r["disabled_ms"]) for r in rows] == [("accueil", None),
                                                                  ("qualite", None)]
    session = login("premier mot de passe")
    assert session and access.session_manager(conn, session) == "qualite"

    assert borne("manager", "disable", "qualite", "--db", db).returncode == 0
    assert "disabled" in [line for line in borne("manager", "list", "--db", db)
                          .stdout.splitlines() if line.startswith("qualite")][0]
    assert login("premier mot de passe") is None
    assert borne("manager", "enable", "qualite", "--db", db).returncode == 0
    session = login("premier mot de passe")
    assert session

    out = borne("manager", "reset", "qualite", "--password-stdin", "--db", db,
                stdin="court\n")
    assert out.returncode == 2 and "at least 10" in out.stderr
    assert borne("manager", "reset", "qualite", "--password-stdin", "--db", db,
                 stdin="nouveau mot de passe\n").returncode == 0
    assert access.session_manager(conn, session) is None  # the open session ended
    assert login("premier mot de passe") is None
    assert login("nouveau mot de passe")
    for argv, words in ((("enable", "qualite"), "no disabled manager"),
                        (("reset", "personne", "--password-stdin"), "no manager named"),
                        (("disable", "personne"), "no active manager")):
        out = borne("manager", *argv, "--db", db, stdin="un mot de passe long\n")
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr


def test_screen_links_use_the_public_address_and_refuse_one_without_scheme(tmp_path):
    db = str(tmp_path / "b.db")
    make_registry(db, 0, site="mairie")
    none = borne("screen", "link", "add", "mairie", "--db", db)
    assert none.returncode == 2 and "--base-url" in none.stderr and "public_url" in none.stderr
    bare = borne("screen", "link", "add", "mairie", "--base-url", "avis.example.fr",
                 "--db", db)
    assert bare.returncode == 2 and "--base-url must be an http:// or https://" in bare.stderr
    assert "Traceback" not in bare.stderr
    made = json.loads(borne("screen", "link", "add", "mairie", "--json", "--base-url",
                            "https://avis.example.fr/", "--db", db).stdout)
    assert made["url"] == "https://avis.example.fr/screen/mairie?key=" + made["key"]
    conf = tmp_path / "serve.toml"
    conf.write_text('public_url = "https://borne.mairie.example"\n')
    for extra, env in ((["--config", str(conf)], None), ([], {"BORNE_CONFIG": str(conf)})):
        out = borne("screen", "link", "add", "mairie", *extra, "--db", db, env=env)
        assert out.returncode == 0, out.stderr
        url = out.stdout.splitlines()[1]
        assert url.startswith("https://borne.mairie.example/screen/mairie?key=")
    # Without either, the public address the server last started with.
    server = Server(db, "--http", "127.0.0.1:0", "--broker-port", "0", "--public-url",
                    "https://avis.mairie.example/").start()
    server.terminate()
    out = borne("screen", "link", "add", "mairie", "--db", db)
    assert out.stdout.splitlines()[1].startswith("https://avis.mairie.example/screen/mairie?key=")
    # The links made before the refusals are the only ones.
    assert len(json.loads(borne("screen", "link", "list", "--json", "--db", db).stdout)) == 4
