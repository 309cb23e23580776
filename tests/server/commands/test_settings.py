"""The server's settings: defaults, a TOML file, the command line, in that
order of priority; docs/CONFIGURATION.md lists every one of them."""
import os
import re

import pytest

from sync_server.settings import FIELDS, Settings, SettingsError, load
from tests import realparts
from tests.server_support import Server


def write(tmp_path, text):
    path = tmp_path / "serve.toml"
    path.write_text(text)
    return str(path)


def test_file_then_command_line(tmp_path, monkeypatch):
    monkeypatch.delenv("BORNE_CONFIG", raising=False)
    path = write(tmp_path, 'db = "from-file.db"\nqr_per_address_hour = 5\ntrust_proxy = true\n')
    s = load(path, db="from-cli.db", qr_per_address_hour=None, trust_proxy=None)
    assert (s.db, s.qr_per_address_hour, s.trust_proxy) == ("from-cli.db", 5, True)
    assert s.broker_port == Settings().broker_port == 1883
    assert s.web_address == "127.0.0.1:8080"
    assert load(ingest_only=True).web_address is None


def test_the_environment_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("BORNE_CONFIG", write(tmp_path, "broker_port = 0\n"))
    assert load().broker_port == 0


@pytest.mark.parametrize("text, message", [
    ("brokerport = 1\n", "unknown setting 'brokerport'"),
    ('broker_port = "1883"\n', "broker_port must be a whole number, 0 or more, not '1883'"),
    ("trust_proxy = 1\n", "trust_proxy must be true or false, not 1"),
    ("http = \n", "serve.toml"),
])
def test_bad_files_name_the_setting(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv("BORNE_CONFIG", raising=False)
    with pytest.raises(SettingsError, match=re.escape(message)):
        load(write(tmp_path, text))


def test_every_setting_is_documented():
    doc = open(os.path.join(realparts.ROOT, "docs", "CONFIGURATION.md"), encoding="utf-8").read()
    documented = set(re.findall(r"^\| `([a-z_]+)` \| `--", doc, re.M))
    assert documented == set(FIELDS)
    for name in FIELDS:
        assert "`--%s" % name.replace("_", "-") in doc


def test_serve_reads_its_file(tmp_path):
    port = realparts.free_port()
    path = write(tmp_path, 'http = "127.0.0.1:%d"\nbroker_port = 0\ndb = "%s"\n'
                 % (port, tmp_path / "other.db"))
    srv = Server(tmp_path / "b.db", "--config", path).start()
    try:
        assert srv.port == port
    finally:
        srv.stop()
    assert os.path.exists(tmp_path / "b.db") and not os.path.exists(tmp_path / "other.db")


def test_serve_refuses_a_bad_file(tmp_path):
    out = Server(tmp_path / "b.db", "--config", write(tmp_path, "broker_port = -1\n"))
    with pytest.raises(RuntimeError):
        out.start()
    with open(out.log_path) as f:
        assert "broker_port must be a whole number, 0 or more, not -1" in f.read()
