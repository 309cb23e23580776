"""The `borne` command line. Each feature module adds its own subcommands
through `add_commands(subparsers)`; this module only assembles them."""
import argparse
import importlib
import logging
import sys

from borne_server import __version__
from borne_server.errors import CliError

# Modules that contribute subcommands, in the order `borne --help` lists them.
COMMAND_MODULES = (
    "borne_sim.demo",
    "borne_server.serve_cmd",
    "borne_server.registry_cmd",
    "borne_server.broker_config",
    "borne_server.tls_certs",
    "borne_server.feedback_cmd",
    "borne_server.mystery_cmd",
    "borne_server.screen_cmd",
    "borne_server.rollup_cmd",
    "borne_sim.sim_cmd",
    "borne_server.provision",
    "borne_server.firmware_cmd",
    "borne_server.wire_cmd",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="borne",
        description="Borne: citizen-satisfaction kiosks, sync server and simulator.",
    )
    parser.add_argument("--version", action="version", version="borne " + __version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
