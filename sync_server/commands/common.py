"""Options shared by the `borne` subcommands."""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any, TypeAlias

from sync_server.errors import CliError

# The object add_subparsers() returns (typeshed's name for it; a string, so
# nothing private is touched at run time).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """The `--db PATH` option every data command takes."""
    parser.add_argument("--db", default=os.environ.get("BORNE_DB", "borne.db"),
                        help="SQLite database (default: $BORNE_DB or borne.db)")


def existing_db(path: str, create: bool = False) -> str:
    """`path` if a database is there; else a CliError saying so, unless
    `create` (the first `site add`, or --create): a command run from another
    folder must not make an empty database beside it."""
    if not create and not os.path.exists(path):
        raise CliError("no database at %s (give --db PATH or set BORNE_DB; `borne site add` "
                       "or --create makes a new one)" % os.path.abspath(path))
    return path


def data_command(subparsers: Subparsers, name: str, func: Callable[[argparse.Namespace], Any],
                 help: str, creates: bool = False, **kwargs: Any) -> argparse.ArgumentParser:
    """A subcommand that works on an existing database: its parser, with --db
    and --create, run by `func`. `creates`: the command may make the
    database (`site add`)."""
    parser = subparsers.add_parser(name, help=help, **kwargs)
    add_db_argument(parser)
    parser.add_argument("--create", action="store_true", default=creates,
                        help="make the database if it does not exist")

    def checked(args: argparse.Namespace) -> Any:
        existing_db(args.db, args.create)
        return func(args)
    parser.set_defaults(func=checked)
    return parser


def print_rows(rows: list[dict], as_json: bool, line: Callable[[dict], str]) -> None:
    """A listing: one JSON array with --json, else one `line(row)` per row."""
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        print(line(r))


def checked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), its ValueError (bad input, an unknown name)
    reported as a CliError: the message without a traceback."""
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise CliError(str(e)) from None
