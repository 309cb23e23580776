"""`borne token add/list/revoke` through the installed command, on a real
SQLite file: the token is shown once, only its hash is kept, and a revoked
token no longer opens the API of a running `borne serve`."""
import json
import os
import sqlite3

from tests.server_support import Server, api_get, borne, make_registry


def test_token_add_list_revoke_and_the_running_server(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 1)
    out = borne("token", "add", "--scope", "read", "--label", "tableau de bord", "--json",
                "--db", str(db))
    made = json.loads(out.stdout)
    assert made["scope"] == "read" and made["token"].startswith("borne_")
    stored = sqlite3.connect(db).execute("SELECT token_hash, scope FROM api_tokens").fetchall()
    assert len(stored) == 1 and made["token"] not in stored[0][0] and stored[0][1] == "read"

    listed = json.loads(borne("token", "list", "--json", "--db", str(db)).stdout)
    assert [(t["id"], t["scope"], t["label"], t["revoked_ms"]) for t in listed] == [
        (made["id"], "read", "tableau de bord", None)]
    assert made["token"] not in borne("token", "list", "--db", str(db)).stdout

    srv = Server(db, "--http", "127.0.0.1:0").start()
    try:
        url = srv.base + "/api/v1/kiosks"
        bearer = {"Authorization": "Bearer " + made["token"]}
        assert api_get(url, bearer)[0] == 200
        borne("token", "revoke", str(made["id"]), "--db", str(db))
        status, body = api_get(url, bearer)
        assert status == 401 and "revoked" in body["error"]["message"]
    finally:
        srv.stop()
    listed = json.loads(borne("token", "list", "--json", "--db", str(db)).stdout)
    assert listed[0]["revoked_ms"] is not None


def test_token_commands_refuse_bad_input_without_traceback(tmp_path):
    db = str(tmp_path / "b.db")
    out = borne("token", "list", "--db", db, check=False)
    assert out.returncode == 2 and "no database at" in out.stderr  # none made by mistake
    assert not os.path.exists(db)
    borne("token", "list", "--create", "--db", db)
    out = borne("token", "revoke", "42", "--db", db, check=False)
    assert out.returncode == 2
    assert "no active API token with id 42" in out.stderr and "Traceback" not in out.stderr
    out = borne("token", "add", "--scope", "root", "--db", db, check=False)
    assert out.returncode == 2 and "invalid choice" in out.stderr
