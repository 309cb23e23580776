"""Options shared by the `borne` subcommands."""
import argparse
import json
import os
from collections.abc import Callable


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


def print_rows(rows: list[dict], as_json: bool, line: Callable[[dict], str]) -> None:
    """A listing: one JSON array with --json, else one `line(row)` per row."""
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(line(r))
