"""`borne mystery import FILE`: import mystery-survey tests (CSV or XLSX,
format in docs/MYSTERY.md); `borne mystery criteria`: show the framework."""
from __future__ import annotations

import argparse
import os
import sys

from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.mystery import audits as mystery
from sync_server.mystery import criteria as mystery_criteria
from sync_server.mystery.table import TableError
from sync_server.storage.connection import connect

MAX_LISTED = 200


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("mystery", help="import mystery-survey results")
    msub = p.add_subparsers(dest="mystery_command", metavar="ACTION", required=True)
    i = data_command(msub, "import", run_import,
                     help="import a file of contact tests (.csv or .xlsx)")
    i.add_argument("file")
    i.add_argument("--dry-run", action="store_true", help="check the file, import nothing")
    i.add_argument("--criteria", metavar="FILE",
                   help="criteria framework (.csv or .xlsx; default: the one shipped)")
    c = msub.add_parser("criteria", help="list the criteria framework")
    c.add_argument("--criteria", metavar="FILE", help="a framework file to check and list")
    c.set_defaults(func=run_criteria)


def _format_errors(errors):
    lines = []
    for line, column, message in errors[:MAX_LISTED]:
        where = "line %d" % line if line else "file"
        if column and column != "-":
            where += ", column %s" % column
        lines.append("  %s: %s" % (where, message))
    if len(errors) > MAX_LISTED:
        lines.append("  ... and %d more" % (len(errors) - MAX_LISTED))
    return "\n".join(lines)


def run_import(args: argparse.Namespace) -> None:
    if not os.path.isfile(args.file):
        raise CliError("no such file: %s" % args.file)
    if args.criteria and not os.path.isfile(args.criteria):
        raise CliError("no such criteria file: %s" % args.criteria)
    report = mystery.import_file(connect(args.db), args.file, args.criteria, args.dry_run)
    if report.errors:
        print("%s: %d error(s); nothing imported:" % (args.file, len(report.errors)),
              file=sys.stderr)
        print(_format_errors(report.errors), file=sys.stderr)
        raise CliError("%s not imported (%d errors)" % (args.file, len(report.errors)))
    verb = "would import" if args.dry_run else "imported"
    print("%s: %s %d test(s); %d already imported" % (args.file, verb, len(report.new),
                                                     len(report.already)))


def run_criteria(args: argparse.Namespace) -> None:
    try:
        criteria, errors = mystery_criteria.load(args.criteria)
    except TableError as e:
        raise CliError(str(e)) from None
    if errors:
        print(_format_errors(errors), file=sys.stderr)
        raise CliError("the criteria file has %d error(s)" % len(errors))
    for c in criteria.values():
        target = " (%s <= %g)" % (c["measure"], c["target"]) if c["measure"] else ""
        print("%-32s %-8s %-12s w=%g  %s%s" % (c["code"], c["channel"], c["step"], c["weight"],
                                              c["label_fr"], target))
