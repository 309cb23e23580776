"""`borne team link ...` and `borne poll ...` as written in docs/POLLS.md:
its commands are what `borne` accepts, its JSON example makes a poll, and
the commands create, open, close, moderate and export under the rules."""
import csv
import datetime
import io
import json
import os
import re
import shlex

import pytest

from sync_server.commands.cli import build_parser, main
from sync_server.polls import lifecycle
from sync_server.storage.connection import connect
from sync_server.storage.registry import add_site
from tests import realparts

DOC = os.path.join(realparts.ROOT, "docs", "POLLS.md")
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def doc_blocks(kind):
    with open(DOC, encoding="utf-8") as f:
        return re.findall(r"```%s\n(.*?)```" % kind, f.read(), re.S)


def test_the_documented_commands_parse():
    lines = [line for block in doc_blocks("sh")
             for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    assert len(lines) >= 10
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "borne"
        build_parser().parse_args(argv[1:])


def borne(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "borne.db")
    conn = connect(path)
    add_site(conn, "mairie", "Mairie")
    add_site(conn, "annexe", "Annexe")
    conn.close()
    return path


def test_team_links_add_rotate_revoke(capsys, db):
    status, out, _ = borne(capsys, "team", "link", "add", "mairie", "--base-url",
                           "https://avis.example.fr", "--json", "--db", db)
    first = json.loads(out)
    assert status == 0 and first["url"].startswith("https://avis.example.fr/team/mairie?key=")
    status, out, _ = borne(capsys, "team", "link", "rotate", "mairie", "--base-url",
                           "https://avis.example.fr", "--json", "--db", db)
    second = json.loads(out)
    _s, out, _ = borne(capsys, "team", "link", "list", "--json", "--db", db)
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[first["id"]]["revoked_ms"] and rows[second["id"]]["revoked_ms"] is None
    assert borne(capsys, "team", "link", "revoke", str(second["id"]), "--db", db)[0] == 0
    status, _out, err = borne(capsys, "team", "link", "revoke", str(second["id"]), "--db", db)
    assert status == 2 and "no active team link" in err
    status, _out, err = borne(capsys, "team", "link", "add", "nope", "--base-url", "https://x",
                              "--db", db)
    assert status == 2 and "nope" in err


def test_a_poll_from_the_documented_json_to_its_export(capsys, db, tmp_path):
    questions = tmp_path / "questions.json"
    questions.write_text(doc_blocks("json")[0], encoding="utf-8")
    status, out, err = borne(capsys, "poll", "create", "--title-fr", "B", "--title-en", "B",
                             "--site", "mairie", "--site", "annexe", "--opens", TODAY,
                             "--closes", TODAY, "--criteria", "welcome", "--questions",
                             questions, "--db", db)
    assert status == 0, err
    poll_id = int(out)
    conn = connect(db)
    poll = lifecycle.get(conn, poll_id)
    assert [q["kind"] for q in poll["questions"]] == ["scale", "scale", "scale", "choice", "text"]
    status, _out, err = borne(capsys, "poll", "export", poll_id, "--db", db)
    assert status == 2 and "draft" in err
    assert borne(capsys, "poll", "open", poll_id, "--db", db)[0] == 0
    poll = lifecycle.get(conn, poll_id)
    for i in range(5):
        lifecycle.store(conn, poll, "mairie", "m%d" % i, {0: 3, 1: 2, 2: 1, 3: 0},
                        {4: "Appelez le 06 11 22 33 44"} if i == 0 else {}, "fr")
    lifecycle.store(conn, poll, "annexe", "a0", {0: 0, 1: 0, 2: 0, 3: 1}, {}, "fr")
    assert borne(capsys, "poll", "close", poll_id, "--db", db)[0] == 0
    _s, out, _ = borne(capsys, "poll", "texts", poll_id, "--json", "--db", db)
    (text,) = json.loads(out)
    assert text["text"] == "Appelez le [numéro masqué]" and text["state"] == "pending"
    assert borne(capsys, "poll", "moderate", text["id"], "approve", "--db", db)[0] == 0
    _s, out, _ = borne(capsys, "poll", "export", poll_id, "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    # annexe's 1 is hidden; the total minus mairie would give it, so mairie is hidden
    # too and only the total of 6 is exported
    groups = {(r["group"], r["shown"]) for r in rows}
    assert groups == {("mairie", "0"), ("annexe", "0"), ("*", "1")}
    welcome = [r for r in rows if r["group"] == "*" and r["question"] == "0"]
    assert [int(r["count"]) for r in welcome] == [1, 0, 0, 5]
    _s, out, _ = borne(capsys, "poll", "export", poll_id, "--format", "json", "--db", db)
    res = json.loads(out)["results"]
    assert res["total"]["texts"] == [{"question": 4, "text": "Appelez le [numéro masqué]"}]
    status, _out, err = borne(capsys, "poll", "open", poll_id, "--db", db)
    assert status == 2 and "only a draft opens" in err
    _s, out, _ = borne(capsys, "poll", "list", "--db", db)
    assert "closed" in out


def test_bad_poll_commands_say_why(capsys, db, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    status, _o, err = borne(capsys, "poll", "create", "--title-fr", "B", "--title-en", "B",
                            "--site", "mairie", "--opens", TODAY, "--closes", TODAY,
                            "--questions", bad, "--db", db)
    assert status == 2 and "cannot read" in err
    status, _o, err = borne(capsys, "poll", "create", "--title-fr", "B", "--title-en", "B",
                            "--site", "mairie", "--opens", TODAY, "--closes", TODAY,
                            "--criteria", "speed", "--db", db)
    assert status == 2 and "unknown criterion" in err
    status, _o, err = borne(capsys, "poll", "close", "42", "--db", db)
    assert status == 2 and "no poll with id 42" in err
