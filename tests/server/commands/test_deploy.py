"""Running for real: file permissions, one server per database, commands
that refuse a missing database, log lines fit for the systemd journal."""
import os
import re
import shlex
import stat
import subprocess
import sys

from sync_server.storage.connection import connect
from tests.server_support import BORNE, Server, make_registry, secured_mosquitto


def borne_in(cwd, *args, stdin=None):
    """`borne ARGS` run in `cwd`, the default database (borne.db) unchanged by $BORNE_DB."""
    env = {k: v for k, v in os.environ.items() if k != "BORNE_DB"}
    return subprocess.run([BORNE, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env=env, input=stdin)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_and_its_wal_files_are_readable_by_their_owner_only(tmp_path):
    old = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        db = tmp_path / "borne.db"
        conn = connect(db)
        conn.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
        assert mode(db) == 0o600
        assert mode(str(db) + "-wal") == 0o600
        assert mode(str(db) + "-shm") == 0o600
        conn.close()
        out = borne_in(tmp_path, "site", "add", "s1", "--name", "S", "--db", "made-by-cli.db")
        assert out.returncode == 0, out.stderr
        assert mode(tmp_path / "made-by-cli.db") == 0o600
        served = Server(tmp_path / "made-by-serve.db", "--http", "127.0.0.1:0",
                        "--broker-port", "0").start()
        try:
            for suffix in ("", "-wal", "-shm", ".lock"):
                assert mode(str(tmp_path / "made-by-serve.db") + suffix) == 0o600, suffix
        finally:
            served.stop()
    finally:
        os.umask(old)


def test_commands_naming_a_missing_database_say_so_and_create_nothing(tmp_path):
    for argv in (("kiosk", "list"), ("kiosk", "add", "--site", "s1"), ("site", "list"),
                 ("manager", "list"), ("broker-config", "--out", "conf"),
                 ("backup", "copy.db")):
        out = borne_in(tmp_path, *argv)
        assert out.returncode == 2, (argv, out.stdout, out.stderr)
        assert "no database at %s" % (tmp_path / "borne.db") in out.stderr, argv
        assert "Traceback" not in out.stderr
        assert not (tmp_path / "borne.db").exists(), argv
    # The first `site add` makes it, as does --create.
    assert borne_in(tmp_path, "site", "list", "--create").returncode == 0
    assert (tmp_path / "borne.db").exists()
    assert borne_in(tmp_path, "site", "add", "s1", "--name", "S", "--db", "other.db"
                    ).returncode == 0
    listed = borne_in(tmp_path, "site", "list", "--db", "other.db")
    assert listed.returncode == 0 and "s1" in listed.stdout


def test_a_second_server_on_the_same_database_refuses_and_names_the_first(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 1)
    broker = secured_mosquitto(db)
    mqtt = "mqtt://127.0.0.1:%d" % broker.port
    first = Server(db, "--mqtt", mqtt, "--http", "127.0.0.1:0").start()
    try:
        second = subprocess.run([BORNE, "serve", "--db", str(db), "--mqtt", mqtt, "--http",
                                 "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "already served by process %d" % first.proc.pid in second.stderr
        assert "Traceback" not in second.stderr
        # The same database through another path is the same database.
        other_path = os.path.join(str(tmp_path), ".", "b.db")
        again = subprocess.run([BORNE, "serve", "--db", other_path, "--mqtt", mqtt, "--http",
                                "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
        assert "already served by process %d" % first.proc.pid in again.stderr
        # Ingest workers share the database by design.
        worker = Server(db, "--mqtt", "mqtt://borne-ingest-1@127.0.0.1:%d" % broker.port,
                        "--ingest-only", log_path=str(db) + ".w.log").start()
        assert worker.terminate() == 0
        assert first.proc.poll() is None  # the first server was not disturbed
        assert first.terminate() == 0
        # Once the first has stopped, a server starts again on the database.
        third = Server(db, "--mqtt", mqtt, "--http", "127.0.0.1:0").start()
        assert third.terminate() == 0
    finally:
        first.stop()
        broker.stop()


def test_log_lines_carry_no_time_when_stderr_is_the_journal(tmp_path):
    script = ("import logging, sys; from sync_server.commands.cli import log_format; "
              "logging.basicConfig(format=log_format(), level=logging.INFO); "
              "logging.getLogger('borne').info('hello')")

    def logged(journal):
        with open(tmp_path / "err", "w+") as err:
            st = os.fstat(err.fileno())
            env = dict(os.environ)
            env.pop("JOURNAL_STREAM", None)
            if journal:
                env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            subprocess.run([sys.executable, "-c", script], stderr=err, env=env, check=True,
                           timeout=30)
            err.seek(0)
            return err.read().strip()
    assert logged(True) == "INFO borne: hello"
    plain = logged(False)
    assert plain.endswith("INFO borne: hello") and plain[:4].isdigit()  # 2026-...


DEPLOY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))), "docs", "DEPLOY.md")


def deploy_blocks(lang):
    with open(DEPLOY) as f:
        text = f.read()
    return re.findall(r"```%s\n(.*?)```" % lang, text, re.S)


def test_deploy_guide_units_and_settings_are_what_borne_accepts(tmp_path):
    from sync_server.commands.cli import build_parser
    from sync_server.settings import read_file
    (toml,) = deploy_blocks("toml")
    (tmp_path / "serve.toml").write_text(toml)
    settings = read_file(str(tmp_path / "serve.toml"))
    assert settings["public_url"].startswith("https://") and settings["trust_proxy"] is True
    units = deploy_blocks("ini")
    commands = []
    for unit in units:
        for line in unit.splitlines():
            if line.startswith("ExecStart="):
                argv = shlex.split(line[len("ExecStart="):].replace("%i", "1"))
                if argv[0] == "/bin/sh":  # the backup: sh -c 'exec borne backup FILE'
                    argv = shlex.split(re.sub(r"\$\([^)]*\)", "DATE", argv[2]))[1:]
                assert argv[0] == "/opt/borne/bin/borne", line
                args = build_parser().parse_args(argv[1:])
                commands.append(args.command)
                if args.command == "serve" and args.ingest_only:
                    assert args.mqtt.startswith("mqtt://borne-ingest-1@127.0.0.1:")
            if line.startswith("User="):
                assert line == "User=borne"
    assert sorted(commands) == ["backup", "serve", "serve"]
