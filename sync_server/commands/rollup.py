"""`borne rollup --rebuild`: recompute the satisfaction rollups from the raw
votes and answers (after a restore, or to check the incremental ones)."""
from __future__ import annotations

import argparse
import sqlite3
import time

from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.storage import rollup
from sync_server.storage.connection import connect


def add_commands(sub: Subparsers) -> None:
    p = data_command(sub, "rollup", run, help="recompute the satisfaction rollups from raw rows")
    p.add_argument("--rebuild", action="store_true",
                   help="recompute from the raw votes and QR answers")
    p.add_argument("--site", action="append", dest="sites", metavar="ID",
                   help="only this site (repeatable; default: every site)")


def run(args: argparse.Namespace) -> None:
    if not args.rebuild:
        raise CliError("nothing to do: give --rebuild")
    conn = connect(args.db)
    started = time.monotonic()
    try:
        n = rollup.rebuild(conn, args.sites)
    except sqlite3.Error as e:  # nothing was changed: rebuild is one transaction
        raise CliError("cannot rebuild the rollups of %s: %s" % (args.db, e)) from None
    print("borne: rolled up %d responses in %.1f s" % (n, time.monotonic() - started))
