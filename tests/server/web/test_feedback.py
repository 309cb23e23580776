"""The QR form over HTTP against a real `borne serve`: storing, the thank-you
page, CSRF, the per-device and per-address limits, bad input, revocation,
and the privacy rule (no raw client address in the database or the logs)."""
import json
import sqlite3
import urllib.request

import pytest

from sync_server.feedback import answers as qr_answers
from sync_server.feedback import guard
from tests.server_support import SITE, SITE_NAME, Client, borne, location


@pytest.fixture(scope="module")
def server(qr_site_server):
    return qr_site_server


def answers(server):
    with sqlite3.connect(server.db) as conn:
        return conn.execute("SELECT level, scale, topics, comment, lang FROM qr_answers "
                            "ORDER BY id").fetchall()


def test_form_is_french_by_default_and_english_on_request(server):
    c = Client(server)
    fr = c.get(c.form_path())
    assert fr.status == 200
    assert '<html lang="fr">' in fr.text and SITE_NAME in fr.text
    assert fr.text.count('type="radio" name="level"') == 4  # the site's 4 buttons
    assert "Temps d&#39;attente" in fr.text and 'maxlength="1000"' in fr.text
    en = c.get(c.form_path("en"))
    assert '<html lang="en">' in en.text and "Your satisfaction" in en.text


def test_answer_is_stored_rolled_up_and_thanked(server):
    before = len(answers(server))
    c = Client(server, "127.0.0.5")
    resp = c.answer(level=2, topics=["attente", "accueil"], comment="Bien reçu\r\nmerci")
    assert resp.status == 303
    assert location(resp) == "/f/%s/merci" % server.token
    thanks = c.get("/f/%s/merci?lang=fr" % server.token)
    assert thanks.status == 200 and "Merci" in thanks.text
    rows = answers(server)
    assert len(rows) == before + 1
    assert rows[-1] == (2, 4, "accueil,attente", "Bien reçu\nmerci", "fr")
    with sqlite3.connect(server.db) as conn:
        n = conn.execute("SELECT sum(n) FROM rollup_hourly WHERE site_id = ? AND source = 'qr' "
                         "AND level = 2", (SITE,)).fetchone()[0]
    assert n and n >= 1


def test_one_answer_per_device_per_site_per_hour(server):
    c = Client(server, "127.0.0.6")
    fields = {"csrf": c.csrf(), "lang": "fr", "level": "1"}
    assert c.post(fields).status == 303
    before = len(answers(server))
    again = c.post(fields)  # the same page sent again, or a second answer
    assert again.status == 429 and "il y a moins d&#39;une heure" in again.text
    assert len(answers(server)) == before
    # The form itself says so instead of offering a second answer.
    assert "déjà donné votre avis" in c.get(c.form_path()).text


def qr_refused(server):
    with urllib.request.urlopen(server.base + "/healthz", timeout=5) as resp:
        return json.loads(resp.read())["qr"]["refused"]


def test_a_script_looping_from_one_address_is_stopped_and_counted(server):
    """Each turn loads the form afresh with new cookies, as a script that
    drops them would: the address's budget stops it, its refused posts are
    counted, and what was accepted stays stored."""
    before, refused_before = len(answers(server)), qr_refused(server).get("over_budget", 0)
    statuses = [Client(server, "127.0.0.7").answer(level=3).status for _ in range(60)]
    accepted = statuses.count(303)
    # The bucket (30), plus at most what refills while the loop runs.
    assert guard.BURST <= accepted <= guard.BURST + 2, statuses
    assert statuses[accepted:] == [429] * (60 - accepted)  # stopped for good, not trickling
    assert len(answers(server)) == before + accepted  # accepted answers all kept
    assert qr_refused(server)["over_budget"] - refused_before == 60 - accepted
    over = Client(server, "127.0.0.7").answer(level=3)
    assert over.status == 429 and "Trop de réponses" in over.text
    # Another address is not affected.
    assert Client(server, "127.0.0.8").answer(level=3).status == 303


def test_a_replayed_answer_is_stored_once_even_without_its_cookie(server):
    c = Client(server, "127.0.0.14")
    fields = {"csrf": c.csrf(), "lang": "fr", "level": "2", "comment": "une fois"}
    assert c.post(fields).status == 303
    before = len(answers(server))
    for name in [k for k in c.cookies if k.startswith("borne_answered_")]:
        del c.cookies[name]  # the per-device cookie dropped
    again = c.post(fields)
    assert again.status == 409 and "déjà été enregistrée" in again.text
    # Changing the other fields makes no new form: the CSRF field is its nonce.
    changed = c.post(dict(fields, level="0", comment="deux fois"))
    assert changed.status == 409
    assert len(answers(server)) == before
    assert qr_refused(server)["answered"] >= 2
    # A new form shown to the same browser answers normally (an hour later
    # its device cookie would allow it; here the cookie is gone).
    assert c.answer(level=1).status == 303


def test_replayed_answer_page_in_english(server):
    c = Client(server, "127.0.0.15")
    fields = {"csrf": c.csrf("en"), "lang": "en", "level": "0"}
    assert c.post(fields).status == 303
    c.cookies = {k: v for k, v in c.cookies.items() if not k.startswith("borne_answered_")}
    again = c.post(fields)
    assert again.status == 409 and "already been recorded" in again.text


@pytest.mark.parametrize("level", ["³", "①", "٣", "1.0", "-1", " 1", "0x1", "1e0", "",
                                   "9" * 400])
def test_unicode_and_odd_levels_get_a_400(server, level):
    c = Client(server, "127.0.0.16")
    before = len(answers(server))
    resp = c.post({"csrf": c.csrf(), "lang": "fr", "level": level})
    assert resp.status == 400, resp.text
    assert "niveau de satisfaction" in resp.text
    assert len(answers(server)) == before


def test_odd_cookies_and_fields_never_give_a_500(server):
    c = Client(server, "127.0.0.17")
    token = c.csrf()
    c.cookies[guard.device_cookie_name(SITE)] = "³"
    assert c.get(c.form_path()).status == 200
    assert c.post({"csrf": "①." + token.partition(".")[2], "level": "1"}).status == 400
    assert c.post({"csrf": token, "level": "1"}).status == 303


def test_csrf_token_is_required_and_bound_to_the_browser(server):
    before = len(answers(server))
    c = Client(server, "127.0.0.9")
    token = c.csrf()
    assert c.post({"lang": "fr", "level": "1"}).status == 400  # no token
    other = Client(server, "127.0.0.9")
    other.csrf()  # its own cookie
    stolen = other.post({"csrf": token, "lang": "fr", "level": "1"})
    assert stolen.status == 400 and "expiré" in stolen.text
    # The token's last two characters changed, whatever they were.
    tail = "00" if token[-2:] != "00" else "11"
    forged = c.post({"csrf": token[:-2] + tail, "lang": "fr", "level": "1"})
    assert forged.status == 400
    assert len(answers(server)) == before


def test_bad_input_gets_a_400_that_says_what_is_wrong(server):
    before = len(answers(server))
    c = Client(server, "127.0.0.10")
    base = {"csrf": c.csrf(), "lang": "fr"}
    missing = c.post(dict(base, comment="<script>alert(1)</script>"))
    assert missing.status == 400
    assert 'role="alert"' in missing.text and "choisissez votre niveau" in missing.text
    # The comment comes back in the form, escaped, not lost and not executed.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in missing.text
    assert "<script>" not in missing.text
    long = c.post(dict(base, level="2", comment="é" * 1001))
    assert long.status == 400 and "1001 caractères" in long.text
    assert 'aria-invalid="true"' in long.text
    assert c.post(dict(base, level="4")).status == 400  # 4 buttons: levels 0..3
    assert c.post(dict(base, level="1", topics="parking")).status == 400
    huge = c.post(None, raw=b"comment=" + b"a" * 20000)
    assert huge.status == 400 and "trop volumineuse" in huge.text
    latin1 = c.post(None, raw=b"level=1&comment=caf\xe9")
    assert latin1.status == 400 and "UTF-8" in latin1.text
    en = c.post(dict(base, lang="en", level="9"))
    assert en.status == 400 and "does not exist" in en.text
    assert len(answers(server)) == before


def test_unknown_or_revoked_token_gives_404(server):
    c = Client(server, "127.0.0.11")
    assert c.get("/f/no-such-token").status == 404
    old = server.token
    out = borne("qr", SITE, "--revoke", "--base-url", server.base, "--db", server.db)
    new = out.stdout.split()[-1].rsplit("/", 1)[1]
    assert new != old
    gone = c.get("/f/%s" % old)
    assert gone.status == 404 and "plus valable" in gone.text
    assert c.post({"level": "1"}, path="/f/%s" % old).status == 404
    server.token = new
    assert Client(server, "127.0.0.11").answer(level=0).status == 303


def test_no_raw_address_in_database_or_logs(server):
    c = Client(server, "127.0.0.42")
    assert c.answer(level=3, comment="rien à signaler").status == 303
    assert c.post({"level": "1"}).status == 400  # a refused post is logged too
    with sqlite3.connect(server.db) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    for suffix in ("", "-wal"):
        try:
            with open(server.db + suffix, "rb") as f:
                assert b"127.0.0.42" not in f.read()
        except FileNotFoundError:
            pass
    log = server.log_text()
    assert "qr form refused" in log  # the log is written, without the address
    # The access log must not carry the peer address (aiohttp's default
    # format starts with %a): `borne serve` sets a format without it.
    assert "127.0.0.42" not in log, "the server log holds the client's raw address"


def test_rollup_rebuild_gives_the_same_qr_counts(server):
    def qr_rollups():
        with sqlite3.connect(server.db) as conn:
            return conn.execute("SELECT day, hour, scale, level, filt, n FROM rollup_hourly "
                                "WHERE site_id = ? AND source = 'qr' ORDER BY 1, 2, 3, 4, 5",
                                (SITE,)).fetchall()
    Client(server, "127.0.0.13").answer(level=1)
    live = qr_rollups()
    assert sum(r[-1] for r in live) == len(answers(server))
    borne("rollup", "--rebuild", "--site", SITE, "--db", server.db)
    assert qr_rollups() == live


def test_latest_comments_are_masked(server):
    c = Client(server, "127.0.0.12")
    c.answer(level=0, comment="Rappelez-moi au 06 12 34 56 78 ou jean.dupont@exemple.fr")
    from sync_server.storage.connection import open_db
    comments = qr_answers.latest_comments(open_db(server.db), SITE, limit=1)
    assert comments[0]["level"] == 0 and comments[0]["scale"] == 4
    text = comments[0]["comment"]
    assert "06 12" not in text and "dupont" not in text
    assert "[numéro masqué]" in text and "[adresse masquée]" in text


@pytest.mark.parametrize("text,masked", [
    ("appelez le 0612345678", "appelez le [numéro masqué]"),
    ("tel +33 6 12 34 56 78.", "tel [numéro masqué]."),
    ("ou 01.23.45.67.89 !", "ou [numéro masqué] !"),
    ("0033 1 23 45 67 89", "[numéro masqué]"),
    ("+44 20 7946 0958", "[numéro masqué]"),
    ("écrire à a.b+c@mairie.gouv.fr", "écrire à [adresse masquée]"),
    ("venu le 12/05/2025 à 10:30, ticket 42", "venu le 12/05/2025 à 10:30, ticket 42"),
    ("attente de 45 minutes, guichet 3", "attente de 45 minutes, guichet 3"),
])
def test_mask_contacts(text, masked):
    assert qr_answers.mask_contacts(text) == masked
