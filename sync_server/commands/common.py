"""Options shared by the `borne` subcommands."""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any, TypeAlias

# The object add_subparsers() returns (typeshed's name for it; a string, so
# nothing private is touched at run time).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """The `--db PATH` option every data command takes."""
    parser.add_argument("--db", default=os.environ.get("BORNE_DB", "borne.db"),
                        help="SQLite database (default: $BORNE_DB or borne.db)")


def data_command(subparsers: Subparsers, name: str, func: Callable[[argparse.Namespace], Any],
                 help: str, **kwargs: Any) -> argparse.ArgumentParser:
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
