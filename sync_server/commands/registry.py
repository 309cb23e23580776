"""`borne site ...` and `borne kiosk ...`: the registry from the command line."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from sync_server.broker import dynsec
from sync_server.commands.common import (
    Subparsers,
    add_db_argument,
    checked,
    data_command,
    print_rows,
)
from sync_server.commands.provision import add_console_arguments, add_network_arguments
from sync_server.devices import lifecycle
from sync_server.devices.console import ConsoleError
from sync_server.errors import CliError
from sync_server.storage import organisations, registry
from sync_server.storage.connection import connect, utc_text


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("site", help="add, change and list sites")
    ssub = p.add_subparsers(dest="site_command", metavar="ACTION", required=True)
    a = data_command(ssub, "add", site_add, help="add a site (makes the database if needed)",
                     creates=True)
    a.add_argument("id", help="site id, e.g. mairie-centre")
    a.add_argument("--name", required=True)
    a.add_argument("--timezone", default="Europe/Paris")
    a.add_argument("--buttons", type=int, default=4, choices=(2, 3, 4))
    a.add_argument("--hours", default="{}",
                   help='opening hours as JSON, e.g. {"0": [[510, 720]]} (Monday 8:30-12:00)')
    a.add_argument("--org", metavar="ORGANISATION",
                   help="the organisation (name or id) the site belongs to")
    s = data_command(ssub, "set", site_set,
                     help="change a site's settings (kiosks get the new config)")
    s.add_argument("id")
    s.add_argument("--name")
    s.add_argument("--timezone")
    s.add_argument("--buttons", type=int, choices=(2, 3, 4))
    s.add_argument("--hours")
    s.add_argument("--lockout-s", type=int, dest="lockout_s")
    s.add_argument("--sync-s", type=int, dest="sync_s")
    s.add_argument("--telemetry-s", type=int, dest="telemetry_s")
    s.add_argument("--org", metavar="ORGANISATION",
                   help="move the site to this organisation (name or id)")
    ar = data_command(ssub, "archive", site_archive,
                      help="take a site out of service: its history stays, it leaves the"
                           " rankings (revoke its kiosks first)")
    ar.add_argument("id")
    un = data_command(ssub, "unarchive", site_unarchive, help="put an archived site back")
    un.add_argument("id")
    ls = data_command(ssub, "list", site_list, help="list sites")
    ls.add_argument("--json", action="store_true", help="one JSON array")

    p = sub.add_parser("kiosk", help="register, list and revoke kiosks")
    ksub = p.add_subparsers(dest="kiosk_command", metavar="ACTION", required=True)
    a = data_command(ksub, "add", kiosk_add,
                     help="register a kiosk; prints its id and secret, once")
    a.add_argument("--site", required=True)
    a.add_argument("--id", help="kiosk id (default: the next k0001, k0002, ...)")
    a.add_argument("--json", action="store_true",
                   help='print one line {"device_id": ..., "secret": ...}')
    ls = data_command(ksub, "list", kiosk_list, help="list kiosks and their health")
    ls.add_argument("--site")
    ls.add_argument("--json", action="store_true", help="one JSON array")
    r = data_command(ksub, "revoke", kiosk_revoke,
                     help="stop trusting a kiosk (a running Mosquitto disconnects it)")
    r.add_argument("id")
    add_device_commands(ksub)


def add_device_commands(ksub: Subparsers) -> None:
    """The kiosk commands that also talk to the device over its serial console."""
    def journal_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                       help="time the kiosk is given to deliver its pending votes (default 30)")
        p.add_argument("--discard-votes", type=int, dest="discard_votes", metavar="N",
                       help="drop the N votes still pending: N must be the number printed")

    p = ksub.add_parser("reset", help="wipe the kiosk on --port back to blank (its votes "
                        "delivered first, or discarded with --discard-votes N)")
    add_console_arguments(p)
    journal_options(p)
    p.set_defaults(func=on_console(lifecycle.reset))

    p = ksub.add_parser("decommission", help="take a kiosk out of service: votes delivered, "
                        "credentials revoked, device wiped (without --port: revoked only)")
    p.add_argument("id")
    p.add_argument("--port", help="serial port of the kiosk (omit if the device is lost)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for each answer of the kiosk (default 5)")
    journal_options(p)
    add_db_argument(p)
    p.set_defaults(func=on_console(lifecycle.decommission))

    p = ksub.add_parser("replace", help="provision a new device on --port at the site of "
                        "kiosk ID, under a new id, and revoke ID")
    p.add_argument("id", help="the kiosk replaced")
    add_console_arguments(p)
    add_network_arguments(p)
    add_db_argument(p)
    p.add_argument("--wait-online", type=float, default=10.0, metavar="SECONDS",
                   help="wait up to this long for the new kiosk's broker connection")
    p.set_defaults(func=on_console(lifecycle.replace))

    p = ksub.add_parser("recover", help="re-enable a revoked kiosk on --port under a new "
                        "secret so that it delivers the votes it holds")
    p.add_argument("id")
    add_console_arguments(p)
    add_db_argument(p)
    p.add_argument("--wait-online", type=float, default=20.0, metavar="SECONDS",
                   help="wait up to this long for it to connect and deliver (default 20)")
    p.set_defaults(func=on_console(lifecycle.recover))


def on_console(fn: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], None]:
    """`fn`, with the kiosk's console refusals reported as command errors."""
    def run(args: argparse.Namespace) -> None:
        try:
            fn(args)
        except ConsoleError as e:
            raise CliError(str(e)) from None
    return run



def site_add(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    org = checked(organisations.org_id, conn, args.org) if args.org else None
    checked(registry.add_site, conn, args.id, args.name, args.timezone, args.buttons, args.hours)
    if org is not None:
        organisations.set_site_org(conn, args.id, org)
    print("site %s added" % args.id)


def site_set(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    org = checked(organisations.org_id, conn, args.org) if args.org else None
    checked(registry.set_site, conn, args.id, name=args.name, timezone=args.timezone,
         buttons=args.buttons, hours=args.hours, lockout_s=args.lockout_s,
         sync_s=args.sync_s, telemetry_s=args.telemetry_s)
    if org is not None:
        organisations.set_site_org(conn, args.id, org)
    print("site %s updated" % args.id)


def site_archive(args: argparse.Namespace) -> None:
    checked(registry.archive_site, connect(args.db), args.id)
    print("site %s archived: its history is kept, it is out of the rankings" % args.id)


def site_unarchive(args: argparse.Namespace) -> None:
    checked(registry.archive_site, connect(args.db), args.id, False)
    print("site %s back in service" % args.id)


def site_list(args: argparse.Namespace) -> None:
    print_rows(registry.list_sites(connect(args.db)), args.json,
               lambda r: "%-24s %-32s %-16s %d buttons, %d kiosks%s" % (
                   r["id"], r["name"], r["timezone"], r["buttons"], r["kiosks"],
                   ", archived " + utc_text(r["archived_ms"]) if r["archived_ms"] else ""))


def kiosk_add(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    dev, secret = checked(registry.add_kiosk, conn, args.site, args.id)
    if args.json:
        print(json.dumps({"device_id": dev, "secret": secret}))
    else:
        print("kiosk %s\nsecret %s" % (dev, secret))
        print("(the secret is shown only once)")
    print(dynsec.tell_running(conn, dev, secret), file=sys.stderr)


def kiosk_list(args: argparse.Namespace) -> None:
    print_rows(registry.list_kiosks(connect(args.db), args.site), args.json,
               lambda r: ("%-16s %-24s %-8s last seen %s, journal %s, rejected %d,"
                          " undatable %d, unknown campaign %d") % (
                   r["id"], r["site_id"],
                   "revoked" if r["revoked_ms"] else (r["state"] or "unknown"),
                   utc_text(r["last_seen_ms"], "never"),
                   "-" if r["journal"] is None else r["journal"], r["rejected"],
                   r["undatable"], r["unknown_campaign"]))


def kiosk_revoke(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    checked(registry.revoke_kiosk, conn, args.id)
    print("kiosk %s revoked" % args.id)
    print(dynsec.tell_running(conn, args.id, None), file=sys.stderr)
