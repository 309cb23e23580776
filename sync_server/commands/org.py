"""`borne org ...`: the organisations that sites belong to and managers
are scoped to."""
from __future__ import annotations

import argparse

from sync_server.commands.common import Subparsers, data_command, print_rows
from sync_server.errors import CliError
from sync_server.storage import organisations
from sync_server.storage.connection import connect


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("org", help="organisations: their sites, their managers")
    osub = p.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    a = data_command(osub, "add", org_add, help="add an organisation")
    a.add_argument("name", help="e.g. 'Mairie de Villeneuve'")
    a.add_argument("--type", dest="kind", required=True, choices=organisations.KINDS,
                   help="commune, community (of municipalities), department (departmental"
                        " council), library or other")
    a.add_argument("--population", type=int,
                   help="legal population (required for a commune: it gives its band)")
    ls = data_command(osub, "list", org_list, help="list organisations")
    ls.add_argument("--json", action="store_true", help="one JSON array")


def org_add(args: argparse.Namespace) -> None:
    try:
        org = organisations.add_org(connect(args.db), args.name, args.kind, args.population)
    except ValueError as e:
        raise CliError(str(e)) from None
    print("organisation %d added: %s (%s)" % (org, args.name, args.kind))


def org_list(args: argparse.Namespace) -> None:
    print_rows(organisations.list_orgs(connect(args.db)), args.json,
               lambda r: "%4d  %-40s %-10s %-12s %d sites" % (
                   r["id"], r["name"], r["kind"], r["band"] or "-", r["sites"]))
