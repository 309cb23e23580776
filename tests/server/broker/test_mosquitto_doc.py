"""docs/MOSQUITTO.md says what `borne broker-config` does: its commands
parse with the real options, run as written (paths moved into a temporary
folder) they write the files and listeners the document describes, and the
defaults it states are the command's."""
import os
import re
import shlex

from sync_server.broker import mosquitto
from sync_server.commands.cli import build_parser
from tests import realparts
from tests.server_support import borne

DOC = os.path.join(realparts.ROOT, "docs", "MOSQUITTO.md")


def doc_text():
    with open(DOC) as f:
        return f.read()


def doc_commands():
    """Every command of the document's code blocks, continuation lines joined."""
    out = []
    for block in re.findall(r"```\n(.*?)```", doc_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                out.append(shlex.split(line))
    return out


def test_every_borne_command_of_the_doc_parses():
    parser = build_parser()
    borne_lines = [argv for argv in doc_commands() if argv[0] == "borne"]
    assert len(borne_lines) >= 4
    for argv in borne_lines:
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown option


def test_options_and_defaults_the_doc_names_are_the_commands():
    parser = build_parser()
    text = doc_text()
    named = set(re.findall(r"`(--[a-z-]+)", text))
    assert named == {"--tls", "--listener", "--tls-listener", "--workers", "--persistence",
                     "--plugin"}
    values = {"--tls": "d", "--workers": "2"}
    for opt in named:  # each is an option of broker-config (or parsing exits)
        parser.parse_args(["broker-config", "--out", "x", opt, values.get(opt, "a:1")])
    defaults = parser.parse_args(["broker-config", "--out", "x"])
    assert "(default `%s`" % defaults.listener in text
    assert "(default `%s`" % defaults.tls_listener in text
    assert "(default %d)" % defaults.workers in text
    assert defaults.plugin == mosquitto.DYNSEC_PLUGIN and "`%s`" % defaults.plugin in text


def test_the_doc_install_commands_write_what_it_describes(tmp_path):
    moved = {"/var/lib/borne/borne.db": str(tmp_path / "borne.db"),
             "/etc/mosquitto/conf.d": str(tmp_path / "conf.d"),
             "/etc/borne/tls": str(tmp_path / "tls")}
    borne("site", "add", "s1", "--name", "S", "--db", moved["/var/lib/borne/borne.db"])
    ran = 0
    for argv in doc_commands():
        if argv[0] != "borne" or argv[1] not in ("tls", "broker-config"):
            continue
        borne(*[moved.get(a, a) for a in argv[1:]])
        ran += 1
    assert ran >= 2
    confd = tmp_path / "conf.d"
    assert sorted(os.listdir(confd)) == ["borne", "borne.conf"]
    assert sorted(os.listdir(confd / "borne")) == ["broker.crt", "broker.key",
                                                    "dynamic-security.json"]
    conf = (confd / "borne.conf").read_text()
    assert [x for x in conf.splitlines() if x.startswith("listener")] == [
        "listener 1883 127.0.0.1", "listener 8883 0.0.0.0"]
    assert "allow_anonymous false" in conf and "use_username_as_clientid true" in conf
    assert "plugin_opt_config_file %s" % (confd / "borne" / "dynamic-security.json") in conf
    # Owned by user mosquitto, 0700 and 0600, when that user exists (Debian's package).
    try:
        import pwd
        uid = pwd.getpwnam("mosquitto").pw_uid
    except KeyError:
        uid = None
    st = os.stat(confd / "borne")
    assert st.st_mode & 0o777 == 0o700
    for name in os.listdir(confd / "borne"):
        assert os.stat(confd / "borne" / name).st_mode & 0o777 == 0o600
        if uid is not None and os.geteuid() == 0:
            assert os.stat(confd / "borne" / name).st_uid == uid
