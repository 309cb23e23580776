"""Options shared by the `borne` subcommands."""
import argparse
import os


def add_db_argument(parser):
    """The `--db PATH` option every data command takes."""
    parser.add_argument("--db", default=os.environ.get("BORNE_DB", "borne.db"),
                        help="SQLite database (default: $BORNE_DB or borne.db)")


def data_command(subparsers, name: str, func, help: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand that works on the database: its parser, with --db, run by `func`."""
    parser = subparsers.add_parser(name, help=help, **kwargs)
    add_db_argument(parser)
    parser.set_defaults(func=func)
    return parser
