"""`borne screen link ...` (secret links to a site's agents' screen) and
`borne manager ...` (accounts of the manager view)."""
from __future__ import annotations

import argparse
import getpass
import json
import sqlite3
import sys

from sync_server.commands.common import Subparsers, checked, data_command, print_rows
from sync_server.commands.serve import PUBLIC_URL
from sync_server.errors import CliError
from sync_server.settings import SettingsError
from sync_server.settings import load as load_settings
from sync_server.storage import organisations, registry
from sync_server.storage.connection import connect, get_setting, utc_text
from sync_server.web import access as screen_access


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("screen", help="secret links to the agents' screen of a site")
    ssub = p.add_subparsers(dest="screen_command", metavar="ACTION", required=True)
    lp = ssub.add_parser("link", help="add, list or revoke screen links")
    lsub = lp.add_subparsers(dest="link_command", metavar="ACTION", required=True)
    link_options(data_command(lsub, "add", link_add,
                              help="make a link for a site; prints it once"),
                 "where the screen hangs, e.g. 'accueil RDC'")
    ls = data_command(lsub, "list", link_list,
                      help="list screen links (their secrets are not kept)")
    ls.add_argument("--site")
    ls.add_argument("--json", action="store_true")
    r = data_command(lsub, "revoke", link_revoke, help="stop a link from opening the screen")
    r.add_argument("id", type=int)

    p = sub.add_parser("manager", help="accounts of the manager view")
    msub = p.add_subparsers(dest="manager_command", metavar="ACTION", required=True)
    a = data_command(msub, "add", manager_add,
                     help="add a manager of one organisation (--org) or a network operator"
                          " (--operator; the default while no organisation exists); password"
                          " asked, or read from stdin")
    a.add_argument("username")
    who = a.add_mutually_exclusive_group()
    who.add_argument("--org", metavar="ORGANISATION",
                     help="the organisation (name or id) whose sites alone this manager sees")
    who.add_argument("--operator", action="store_true",
                     help="a network operator, who sees every organisation")
    a.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    d = data_command(msub, "disable", manager_disable,
                     help="disable a manager and end their sessions")
    d.add_argument("username")
    e = data_command(msub, "enable", manager_enable, help="let a disabled manager log in again")
    e.add_argument("username")
    r = data_command(msub, "reset", manager_reset,
                     help="set a manager's new password (asked, or read from stdin); their"
                          " sessions end")
    r.add_argument("username")
    r.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    ls = data_command(msub, "list", manager_list, help="list manager accounts")
    ls.add_argument("--json", action="store_true", help="one JSON array")



def link_options(p: argparse.ArgumentParser, label_help: str) -> None:
    """The arguments of a command that makes a site's secret link (screen or team)."""
    p.add_argument("site")
    p.add_argument("--label", default="", help=label_help)
    p.add_argument("--base-url", metavar="URL",
                   help="the server's public address, e.g. https://avis.example.fr (default:"
                        " public_url of the settings file, else the --public-url the server"
                        " last started with)")
    p.add_argument("--config", metavar="FILE",
                   help="settings file of `borne serve` (default: $BORNE_CONFIG)")
    p.add_argument("--json", action="store_true", help='one line {"id", "url", "key"}')


def public_base(args: argparse.Namespace, conn: sqlite3.Connection) -> str:
    """--base-url, else public_url of the settings file, else the public
    address `borne serve` last started with: the address the screens reach
    the server at (never guessed: a wrong link is useless)."""
    try:
        base = load_settings(args.config, public_url=args.base_url).public_url
    except SettingsError as e:
        raise CliError(str(e).replace("command line: public_url", "--base-url")) from None
    base = base or get_setting(conn, PUBLIC_URL)
    if not base:
        raise CliError("give --base-url https://... (the address screens reach the server at),"
                       " or set public_url in the settings file (--config or $BORNE_CONFIG)")
    return base


def link_add(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    checked(registry.get_site, conn, args.site)
    base = public_base(args, conn)
    link_id, key = checked(screen_access.add_link, conn, args.site, args.label)
    url = "%s/screen/%s?key=%s" % (base, args.site, key)
    if args.json:
        print(json.dumps({"id": link_id, "url": url, "key": key}))
    else:
        print("screen link %d for %s (shown once):" % (link_id, args.site))
        print(url)


def link_list(args: argparse.Namespace) -> None:
    print_rows(screen_access.list_links(connect(args.db), args.site), args.json,
               lambda r: "%4d  %-24s %-20s created %s  %s" % (
                   r["id"], r["site_id"], r["label"] or "-", utc_text(r["created_ms"]),
                   "revoked " + utc_text(r["revoked_ms"]) if r["revoked_ms"] else "active"))


def link_revoke(args: argparse.Namespace) -> None:
    checked(screen_access.revoke_link, connect(args.db), args.id)
    print("screen link %d revoked" % args.id)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password for %s: " % args.username)
    if getpass.getpass("again: ") != password:
        raise CliError("the two passwords differ")
    return password


def manager_add(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    if not args.operator and not args.org and organisations.list_orgs(conn):
        raise CliError("say whose sites %s sees: --org ORGANISATION (one organisation) or"
                       " --operator (every organisation)" % args.username)
    org = checked(organisations.org_id, conn, args.org) if args.org else None
    checked(screen_access.add_manager, conn, args.username, _password(args), org)
    print("manager %s added: %s" % (args.username, "network operator, sees every organisation"
                                    if org is None else "sees organisation %s only" % args.org))


def manager_reset(args: argparse.Namespace) -> None:
    checked(screen_access.reset_manager, connect(args.db), args.username, _password(args))
    print("manager %s has a new password; their open sessions ended" % args.username)


def manager_enable(args: argparse.Namespace) -> None:
    checked(screen_access.enable_manager, connect(args.db), args.username)
    print("manager %s enabled" % args.username)


def manager_list(args: argparse.Namespace) -> None:
    print_rows(screen_access.list_managers(connect(args.db)), args.json,
               lambda r: "%-24s %-30s created %s  %s" % (
                   r["username"], "operator" if r["role"] == "operator"
                   else "manager of %s" % r["organisation"], utc_text(r["created_ms"]),
                   "disabled " + utc_text(r["disabled_ms"]) if r["disabled_ms"] else "active"))


def manager_disable(args: argparse.Namespace) -> None:
    checked(screen_access.disable_manager, connect(args.db), args.username)
    print("manager %s disabled" % args.username)
