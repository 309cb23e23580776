"""A consultation through `borne consultation`: its checks, its life, and its
results recomputed here by hand (counts, shares, Wilson intervals, local
days), then exported as open data."""
import csv
import io
import json
import subprocess

import pytest

from sync_server.commands.cli import main
from sync_server.consultations import model, results
from sync_server.storage import consultations as store
from sync_server.storage import registry
from sync_server.storage.connection import connect, transaction
from tests.server_support import BORNE

ADD = ["--title-fr", "Parc des Tilleuls", "--title-en", "Tilleuls park",
       "--question-fr", "Faut-il ouvrir le parc le soir ?",
       "--question-en", "Should the park open in the evening?",
       "--answer", "Oui|Yes", "--answer", "Non|No", "--kiosk-answers", "2",
       "--opens", "2026-11-30 08:00", "--closes", "2026-12-20 18:00"]
# 2026-12-01 10:00 Paris (09:00 UTC), and 23:30 UTC that day: 00:30 on the 2nd in Paris.
DAY1 = 1796115600000
LATE = DAY1 + 14 * 3600 * 1000 + 30 * 60 * 1000


def cli(db, *args, capsys):
    code = main(["consultation", "--db", db, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "borne.db")
    conn = connect(path)
    with transaction(conn):
        registry.add_site(conn, "mairie", "Mairie")
        registry.add_site(conn, "mediatheque", "Médiathèque")
    conn.close()
    return path


def kiosk(conn, cid, site, answer, utc_ms, seq, flags=0):
    """A kiosk answer as ingest stores it (that path is tested with the wire)."""
    conn.execute("INSERT INTO consultation_answers (consultation_id, site_id, channel, answer, "
                 "utc_ms, device_id, seq, boot, t_ms, flags, received_ms) VALUES "
                 "(?, ?, 'kiosk', ?, ?, 'k1', ?, 1, ?, ?, ?)",
                 (cid, site, answer, utc_ms, seq, utc_ms or 5000, flags, DAY1))


def test_checks_and_life_of_a_consultation(db, capsys):
    code, _, err = cli(db, "add", *ADD[:-2], "--closes", "2026-11-01 08:00", "--site", "nowhere",
                       "--answer", "Peut-être|", capsys=capsys)
    assert code == 2
    assert "closing time must come after" in err and "unknown or archived site: nowhere" in err
    assert "answer 3 needs a French and an English text" in err
    for bad in ("0", "65536"):
        code, _, err = cli(db, "add", *ADD, "--site", "mairie", "--id", bad, capsys=capsys)
        assert code == 2 and "between 1 and 65535" in err
    code, out, _ = cli(db, "add", *ADD, "--site", "mairie", "--id", "65535", capsys=capsys)
    assert code == 0 and "consultation 65535 added (draft)" in out
    code, out, _ = cli(db, "add", *ADD, "--site", "mairie", capsys=capsys)
    assert "consultation 1 added" in out
    code, _, err = cli(db, "close", "1", capsys=capsys)
    assert code == 2 and "state 'draft' cannot move to 'closed'" in err
    assert cli(db, "open", "1", capsys=capsys)[0] == 0
    code, _, err = cli(db, "edit", "1", "--answer", "Oui|Yes", "--answer", "Non|No",
                       "--answer", "Sans avis|No opinion", capsys=capsys)
    assert code == 2 and "cannot change once the consultation has opened" in err
    assert cli(db, "edit", "1", "--title-en", "Park", "--site", "mairie", "--site",
               "mediatheque", "--live-results", capsys=capsys)[0] == 0
    code, out, _ = cli(db, "show", "1", "--json", capsys=capsys)
    shown = json.loads(out)
    assert shown["title_en"] == "Park" and shown["sites"] == ["mairie", "mediatheque"]
    assert shown["live_results"] is True and shown["state"] == "open"
    assert shown["answer_texts"] == [{"fr": "Oui", "en": "Yes"}, {"fr": "Non", "en": "No"}]
    assert cli(db, "close", "1", capsys=capsys)[0] == 0
    assert cli(db, "open", "1", capsys=capsys)[0] == 0  # a closed one may reopen
    assert cli(db, "close", "1", capsys=capsys)[0] == 0
    assert cli(db, "archive", "1", capsys=capsys)[0] == 0
    code, _, err = cli(db, "edit", "1", "--title-en", "Parks", capsys=capsys)
    assert code == 2 and "archived consultation no longer changes" in err
    assert cli(db, "open", "1", capsys=capsys)[0] == 2
    assert cli(db, "archive", "65535", "--db", db, capsys=capsys)[0] == 0  # a draft, too
    code, out, _ = cli(db, "list", "--json", capsys=capsys)
    assert [(r["id"], r["state"]) for r in json.loads(out)] == [(65535, "archived"),
                                                               (1, "archived")]


def test_when_answers_are_taken_and_results_public():
    c = {"state": "open", "opens_ms": 1000, "closes_ms": 2000, "live_results": False}
    assert [model.running(c, t) for t in (999, 1000, 1999, 2000)] == [False, True, True, False]
    # Open past its closing time: ended, results public, though nobody closed it.
    assert not model.results_public(c, 1500) and model.results_public(c, 2000)
    assert model.results_public(dict(c, live_results=True), 1500)
    assert not model.results_public(dict(c, live_results=True), 999)
    assert not model.results_public(dict(c, state="draft", live_results=True), 3000)
    assert model.results_public(dict(c, state="closed"), 1500)
    assert not model.running(dict(c, state="closed"), 1500)


def test_results_recomputed_by_hand_and_exported(db, capsys):
    cli(db, "add", *ADD, "--site", "mairie", "--site", "mediatheque", capsys=capsys)
    conn = connect(db)
    with transaction(conn):
        for answer in (0, 0, 0, 1):
            store.add_phone_answer(conn, 1, "mairie", answer, DAY1)
        store.add_phone_answer(conn, 1, "mediatheque", 1, LATE)
        store.add_phone_answer(conn, 1, "mediatheque", 1, LATE)
        kiosk(conn, 1, "mairie", 0, DAY1, 1)
        kiosk(conn, 1, "mairie", 0, DAY1, 2)
        kiosk(conn, 1, "mairie", 1, DAY1, 3)
        kiosk(conn, 1, "mairie", 1, DAY1, 4)
        kiosk(conn, 1, "mairie", 0, DAY1, 5, flags=1)   # a burst: kept out, shown filtered
        kiosk(conn, 1, "mairie", 0, None, 6)            # no time yet: not counted
    res = results.compute(conn, 1)
    conn.close()
    # By hand. Overall, both channels: Oui 3 + 2 = 5, Non 1 + 2 + 2 = 5 of 10;
    # Wilson 95% of 5/10: centre (0.5 + z²/20) / (1 + z²/10) = 0.5, half-width
    # z·sqrt(0.025 + z²/400) / (1 + z²/10) = 0.2634.
    overall = res["overall"]["all"]
    assert (overall["n"], overall["filtered"], overall["filtered_share"]) == (10, 1, 0.0909)
    assert [(a["count"], a["share"], a["low95"], a["high95"]) for a in overall["answers"]] == [
        (5, 0.5, 0.2366, 0.7634), (5, 0.5, 0.2366, 0.7634)]
    # Mairie by phone: Oui 3 of 4: Wilson 0.3006 .. 0.9544; kiosk 2 of 4 (the
    # burst filtered): 0.1500 .. 0.8500.
    mairie = res["sites"][0]
    assert mairie["site_id"] == "mairie"
    assert [(a["count"], a["share"], a["low95"], a["high95"])
            for a in mairie["phone"]["answers"]] == [(3, 0.75, 0.3006, 0.9544),
                                                     (1, 0.25, 0.0456, 0.6994)]
    assert [(a["count"], a["low95"], a["high95"]) for a in mairie["kiosk"]["answers"]] == [
        (2, 0.15, 0.85), (2, 0.15, 0.85)]
    assert mairie["kiosk"]["filtered"] == 1 and mairie["phone"]["filtered"] == 0
    media = res["sites"][1]
    assert [a["count"] for a in media["all"]["answers"]] == [0, 2]
    assert media["kiosk"]["n"] == 0 and media["kiosk"]["answers"][0]["share"] is None
    # Turnout per Paris day: the two late phone answers fall on 2 December.
    assert res["turnout"] == [{"day": "2026-12-01", "kiosk": 4, "phone": 4, "all": 8},
                              {"day": "2026-12-02", "kiosk": 0, "phone": 2, "all": 2}]
    assert res["undated"] == 1
    # The command line gives the same figures, and the open-data files.
    code, out, _ = cli(db, "results", "1", "--json", capsys=capsys)
    assert json.loads(out) == json.loads(json.dumps(res))
    code, out, _ = cli(db, "export", "1", "--format", "json", capsys=capsys)
    doc = json.loads(out)
    assert doc["licence"]["name"] == "Licence Ouverte / Etalab 2.0"
    assert doc["consultation"]["opens_utc"] == "2026-11-30T07:00:00Z"
    row = next(r for r in doc["results"] if r["site_id"] == "" and r["channel"] == "all"
               and r["answer_index"] == 0)
    assert (row["count"], row["share"], row["low95"], row["counted"]) == (5, 0.5, 0.2366, 10)
    assert set(doc["schema"]["fields"]) >= set(row) - {"site_name"}
    code, out, _ = cli(db, "export", "1", "--format", "csv", capsys=capsys)
    assert out.startswith("consultation_id,site_id,site_name,channel,") and "\r\n" in out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 * 3 * 2  # (overall + 2 sites) x 3 channels x 2 answers
    assert {r["licence"] for r in rows} == {"Licence Ouverte / Etalab 2.0"}
    mk = [r for r in rows if r["site_id"] == "mairie" and r["channel"] == "kiosk"]
    assert [(r["answer_fr"], r["count"], r["low95"], r["filtered"]) for r in mk] == [
        ("Oui", "2", "0.15", "1"), ("Non", "2", "0.15", "1")]


def test_kiosk_card_and_poster(db, tmp_path, capsys):
    cli(db, "add", *ADD, "--site", "mairie", capsys=capsys)
    svg = str(tmp_path / "card.svg")
    code, out, _ = cli(db, "card", "1", "--out", svg, capsys=capsys)
    assert code == 0 and "kiosk card of consultation 1" in out
    text = open(svg, encoding="utf-8").read()
    for words in ("Faut-il ouvrir le parc", "Should the park open", ">Oui<", ">Yes<", ">Non<",
                  ">No<", ">1<", ">2<"):
        assert words in text, words
    assert ">3<" not in text  # two buttons on this kiosk card
    code, _, err = cli(db, "card", "1", "--out", str(tmp_path / "card.txt"), capsys=capsys)
    assert code == 2 and ".pdf, .svg or .png" in err
    pdf = str(tmp_path / "poster.pdf")
    code, out, _ = cli(db, "poster", "1", "--site", "mairie", "--out", pdf, "--base-url",
                       "https://avis.example.fr", capsys=capsys)
    token = store.get(connect(db), 1)["token"]
    assert code == 0 and out.splitlines()[-1] == "https://avis.example.fr/c/%s?site=mairie" % token
    assert open(pdf, "rb").read(5) == b"%PDF-"
    cli(db, "edit", "1", "--kiosk-answers", "0", capsys=capsys)
    code, _, err = cli(db, "card", "1", "--out", svg, capsys=capsys)
    assert code == 2 and "phones only" in err


def test_the_installed_command_refuses_without_a_traceback(db):
    out = subprocess.run([BORNE, "consultation", "--db", db, "results", "7"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "no consultation has number 7" in out.stderr and "Traceback" not in out.stderr


def test_published_ideas_most_supported_first_queue_oldest_first(db, capsys):
    from sync_server.consultations import phone

    cli(db, "add", *ADD, "--site", "mairie", "--ideas", capsys=capsys)
    conn = connect(db)
    ids = [store.add_idea(conn, 1, "mairie", text, "fr", DAY1 + i)
           for i, text in enumerate(("Bancs", "Lumières", "Fontaine", "Écrire à x@y.fr"))]
    for idea_id in ids[:3]:
        phone.moderate(conn, idea_id, True, "", DAY1)
    store.add_support(conn, ids[1])
    store.add_support(conn, ids[1])
    store.add_support(conn, ids[2])
    assert [i["text"] for i in phone.published_ideas(conn, 1)] == [
        "Lumières", "Fontaine", "Bancs"]
    assert [i["text"] for i in phone.queue(conn, 1, "en")] == ["Écrire à [address hidden]"]
    with pytest.raises(ValueError):
        phone.moderate(conn, ids[3], False, "  ", DAY1)  # a rejection needs a reason


def test_the_documented_commands_are_what_borne_accepts():
    import os
    import shlex

    from sync_server.commands.cli import build_parser
    from tests.realparts import ROOT

    text = open(os.path.join(ROOT, "docs", "CONSULTATIONS.md"), encoding="utf-8").read()
    block = text.split("## From the command line", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()
             if line.startswith("    borne ")]
    assert len(lines) == 9
    for line in lines:
        build_parser().parse_args(shlex.split(line, comments=True)[1:])


def test_numbers_run_out_at_65535(db, capsys):
    conn = connect(db)
    with transaction(conn):
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n "
                     "WHERE i < 65535) INSERT INTO consultations (id, token, title_fr, title_en, "
                     "question_fr, question_en, answers, opens_ms, closes_ms, created_ms, "
                     "updated_ms) SELECT i, 't' || i, '', '', '', '', '[]', 0, 1, 0, 0 FROM n")
    code, out, _ = cli(db, "add", *ADD, "--site", "mairie", capsys=capsys)
    assert code == 0 and "consultation 1 added" in out  # the one gap left
    code, _, err = cli(db, "add", *ADD, "--site", "mairie", capsys=capsys)
    assert code == 2 and "all 65,535 consultation numbers are taken" in err


def test_live_screens_are_told_of_answers_and_moves(db, capsys):
    from sync_server.consultations import phone
    from sync_server.feedback.guard import AddressLimiter
    from sync_server.storage import rollup

    cli(db, "add", *ADD, "--site", "mairie", capsys=capsys)
    conn = connect(db)
    v0 = rollup.versions(conn, ["mairie", "mediatheque"])
    cli(db, "open", "1", capsys=capsys)
    v1 = rollup.versions(conn, ["mairie", "mediatheque"])
    assert v1["mairie"] > v0["mairie"] and v1["mediatheque"] == v0["mediatheque"]
    c = store.get(conn, 1)
    assert phone.store_answer(conn, c, "mairie", 0, "", "fr", AddressLimiter(100), "a", "p",
                              DAY1) == phone.STORED
    assert rollup.versions(conn, ["mairie"])["mairie"] > v1["mairie"]
    # Never in the satisfaction figures.
    assert conn.execute("SELECT count(*) FROM rollup_hourly").fetchone()[0] == 0
