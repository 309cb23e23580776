"""What METHOD.md ("Alerts") and docs/DEPLOY.md ("12. Alerts") say is what
the code does: the rules and their defaults, the settings snippet, the
commands, the receiver's verification snippet, the retry counts."""
import os
import re

from sync_server.alerts import delivery, rules, service
from sync_server.commands.cli import main
from sync_server.settings import read_file
from sync_server.storage import alerts as store
from sync_server.storage import registry
from sync_server.storage.connection import connect
from tests import realparts


def read(*path):
    with open(os.path.join(realparts.ROOT, *path), encoding="utf-8") as f:
        return f.read()


DEPLOY = read("docs", "DEPLOY.md").split("## 12. Alerts", 1)[1]
METHOD = read("METHOD.md").split("## Alerts", 1)[1].split("\n## ", 1)[0]


def indented_blocks(text):
    return [re.sub(r"^    ", "", b, flags=re.M)
            for b in re.findall(r"\n\n((?:    .*\n)+)", text)]


def test_method_lists_every_rule_with_its_defaults():
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| .* \| (.*) \|$", METHOD, re.M))
    assert set(rows) == set(rules.DEFAULTS)
    d = rules.DEFAULTS
    assert rows["spike"] == "%d min, %d %%, %d" % (
        d["spike"]["window_min"], d["spike"]["share"] * 100, d["spike"]["min_responses"])
    assert rows["offline"] == "%d min" % d["offline"]["after_min"]
    assert rows["silent"] == "%d min" % d["silent"]["after_min"]
    assert rows["battery"] == str(d["battery"]["under_pct"])
    assert rows["backlog"] == str(d["backlog"]["over"])
    assert rows["dropped"] == str(d["dropped"]["over"])
    assert rows["clock"] == "%d min" % d["clock"]["unknown_min"]
    low = d["day_low"]
    for text in ("`weeks` weeks (%d)" % low["weeks"], "(%d points of happy index)" % low["points"],
                 "`z` (%d)" % low["z"], "`min_today` (%d)" % low["min_today"],
                 "`min_usual` (%d)" % low["min_usual"]):
        assert text in " ".join(METHOD.split()), text
    assert "at most %d s after each ingest commit" % service.MIN_GAP_S in " ".join(METHOD.split())


def test_deploy_settings_commands_and_retries(tmp_path):
    blocks = indented_blocks(DEPLOY)
    (tmp_path / "s.toml").write_text(blocks[0])
    assert read_file(str(tmp_path / "s.toml"))["smtp_password_file"] == "/etc/borne/smtp-password"
    db = str(tmp_path / "b.db")
    conn = connect(db)
    registry.add_site(conn, "mairie-centre", "Mairie")
    registry.add_site(conn, "mediatheque", "Médiathèque")
    conn.execute("INSERT INTO alerts (id, site_id, kind, state, opened_ms, seen_ms)"
                 " VALUES (12, 'mairie-centre', 'spike', 'open', 1, 1)")
    for line in blocks[1].splitlines():
        argv = line.split("#")[0].split()
        assert argv[0] == "borne"
        argv = [a.strip("'") for a in argv[1:]]
        if argv[1] == "test":
            continue  # sent for real in tests/browser/test_alerts_browser.py
        assert main(argv + ["--db", db]) == 0, line
    at = rules.resolve(store.list_rules(conn), "mairie-centre", None)
    assert at["notify"]["webhook"] == ["https://chat.example.fr/hooks/borne"]
    assert at["quiet"] == {"from": "19:00", "to": "08:00"}
    assert at["spike"]["share"] == 0.4
    assert not rules.resolve(store.list_rules(conn), "mediatheque", None)["offline"]["enabled"]
    assert store.get_alert(conn, 12)["state"] == "acknowledged"
    conn.close()
    assert "eight attempts in all" in DEPLOY and service.MAX_ATTEMPTS == 8
    # `borne alerts test` exits with 1 when a recipient could not be reached.
    assert "exits with 1 if one failed" in " ".join(DEPLOY.split())
    assert main(["alerts", "test", "--webhook", "http://127.0.0.1:9/hook", "--db", db]) == 1


def test_the_receivers_snippet_verifies_our_signature():
    snippet = [b for b in indented_blocks(DEPLOY) if "def verify" in b][0]
    scope: dict = {}
    exec(snippet, scope)
    body = b'{"event": "test"}'
    header = delivery.sign("k", body)
    assert scope["verify"](b"k", body, header)
    assert not scope["verify"](b"k", body + b"!", header)
    assert not scope["verify"](b"other", body, header)
    assert delivery.SIGNATURE_HEADER + ": t=" in DEPLOY
