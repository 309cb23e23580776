"""`borne backup OUT` and `borne restore BACKUP`: a copy of the database
taken while the server runs, and putting one back."""
from __future__ import annotations

import argparse
import os
import sqlite3
import time

from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.storage.connection import (
    ServerRunning,
    check_copy,
    connect,
    copy_database,
    create_private,
    server_lock,
)


def add_commands(sub: Subparsers) -> None:
    b = data_command(sub, "backup", backup,
                     help="copy the database into a new file, safely while the server runs")
    b.add_argument("out", help="the copy to make (must not exist)")
    r = data_command(sub, "restore", restore, creates=True,
                     help="put a backup in place of the database (the server stopped)")
    r.add_argument("backup", help="a file made by `borne backup`")
    r.add_argument("--force", action="store_true",
                   help="replace an existing database (kept beside it as DB.before-restore-TIME)")


def backup(args: argparse.Namespace) -> None:
    if os.path.exists(args.out):
        raise CliError("%s exists: give a new file name" % args.out)
    part = args.out + ".part"
    conn = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(args.db), uri=True)
    try:
        if os.path.exists(part):
            os.remove(part)
        copy_database(conn, part)
        version, votes = _checked(part)
        os.replace(part, args.out)
    except (OSError, sqlite3.Error) as e:
        raise CliError("cannot back up %s into %s: %s" % (args.db, args.out, e)) from None
    finally:
        conn.close()
        if os.path.exists(part):
            os.remove(part)
    print("backup of %s into %s: schema %d, %d votes, integrity ok" % (
        args.db, args.out, version, votes))


def restore(args: argparse.Namespace) -> None:
    if not os.path.isfile(args.backup):
        raise CliError("no backup at %s" % args.backup)
    version, votes = _checked(args.backup)
    try:
        lock = server_lock(args.db)
    except ServerRunning as e:
        raise CliError("%s is served by process %s: stop the server (and its ingest workers) "
                       "before restoring" % (args.db, e.holder or "?")) from None
    try:
        kept = None
        if os.path.exists(args.db):
            if not args.force:
                raise CliError("%s exists: give --force to replace it (it is kept beside as "
                               "a copy)" % args.db)
            kept = "%s.before-restore-%s" % (args.db, time.strftime("%Y%m%dT%H%M%S"))
            current = sqlite3.connect(args.db)
            try:
                copy_database(current, kept)
            finally:
                current.close()
        src = sqlite3.connect("file:%s?mode=ro" % os.path.abspath(args.backup), uri=True)
        try:
            create_private(args.db)
            dest = sqlite3.connect(args.db)
            try:
                src.backup(dest)  # WAL stays the database's mode; pages replaced in one step
            finally:
                dest.close()
        finally:
            src.close()
        connect(args.db).close()  # migrations of a backup made by an earlier version
    except (OSError, sqlite3.Error) as e:
        raise CliError("cannot restore %s into %s: %s" % (args.backup, args.db, e)) from None
    finally:
        lock.close()
    print("restored %s into %s: schema %d, %d votes%s" % (
        args.backup, args.db, version, votes,
        "; the previous database is kept as %s" % kept if kept else ""))


def _checked(path: str) -> tuple[int, int]:
    try:
        return check_copy(path)
    except ValueError as e:
        raise CliError(str(e)) from None
