"""The `borne` command line. Each command module adds its own subcommands
through `add_commands(subparsers)`; this module only assembles them. Other
installed packages (the simulator) add theirs through the `borne.commands`
entry point group, so the server never imports them."""
import argparse
import logging
import os
import sys
from importlib.metadata import entry_points

from sync_server import __version__
from sync_server.commands import (
    alerts,
    backup,
    barometer,
    broker,
    consultation,
    feedback,
    firmware,
    mystery,
    org,
    polls,
    provision,
    registry,
    rollup,
    screen,
    serve,
    tls,
    token,
    wire,
)
from sync_server.errors import CliError

# Modules that contribute subcommands, in the order `borne --help` lists them
# (the `borne.commands` entry points come after them).
COMMAND_MODULES = (serve, registry, org, broker, tls, feedback, consultation, mystery, screen,
                   polls, token, rollup, provision, firmware, wire, backup, alerts, barometer)
PLUGIN_GROUP = "borne.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="borne",
        description="Borne: citizen-satisfaction kiosks, sync server and simulator.",
    )
    parser.add_argument("--version", action="version", version="borne " + __version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_commands(sub)
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def log_format() -> str:
    """Log lines with their time, except when stderr goes to the systemd
    journal (JOURNAL_STREAM names its device:inode), which stamps each line."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(sys.stderr.fileno())
        journal = stream == "%d:%d" % (st.st_dev, st.st_ino)
    except (OSError, ValueError):  # stderr closed or not a file
        journal = False
    return ("" if journal else "%(asctime)s ") + "%(levelname)s %(name)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format=log_format())
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except CliError as e:
        print("borne: error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
