"""`borne alerts`: list alerts, set the rules per scope, send a test
message, print the webhooks' secret."""
from __future__ import annotations

import argparse
import asyncio
import json

from sync_server.alerts import rules, service
from sync_server.alerts.delivery import webhook_secret
from sync_server.commands.common import Subparsers, data_command, print_rows
from sync_server.errors import CliError
from sync_server.settings import SettingsError
from sync_server.settings import load as load_settings
from sync_server.storage import alerts as store
from sync_server.storage.connection import connect, utc_text


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("alerts", help="alerts: list them, set their rules, send a test message")
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    ls = data_command(asub, "list", list_alerts, help="open and acknowledged alerts")
    ls.add_argument("--all", action="store_true", help="resolved ones too (latest 200)")
    ls.add_argument("--json", action="store_true", help="one JSON array")
    ack = data_command(asub, "ack", ack_alert, help="acknowledge an open alert")
    ack.add_argument("id", type=int)
    ack.add_argument("--by", default="cli", help="who acknowledges (default: cli)")

    r = asub.add_parser("rules", help="rules per scope (METHOD.md, \"Alerts\")")
    rsub = r.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    show = data_command(rsub, "show", show_rules,
                        help="the stored settings, or those in force at a site")
    show.add_argument("--site", help="every rule as it applies at this site")
    show.add_argument("--json", action="store_true")
    scope_help = "'*' (every site), org:ID or site:ID"
    s = data_command(rsub, "set", set_rule, help="set some values of a rule at a scope")
    s.add_argument("scope", help=scope_help)
    s.add_argument("kind", choices=rules.KINDS)
    s.add_argument("values", nargs="+", metavar="KEY=VALUE",
                   help='e.g. share=0.4 window_min=30, enabled=false, email=a@x.fr,b@x.fr,'
                        ' from=19:00 to=08:00')
    c = data_command(rsub, "clear", clear_rule, help="forget what a scope set for a rule")
    c.add_argument("scope", help=scope_help)
    c.add_argument("kind", choices=rules.KINDS)

    t = data_command(asub, "test", send_test,
                     help="send a test message now (default: to every site's recipients)")
    t.add_argument("--config", metavar="FILE",
                   help="the server's settings file, for SMTP (default: $BORNE_CONFIG)")
    t.add_argument("--email", action="append", default=[], metavar="ADDRESS")
    t.add_argument("--webhook", action="append", default=[], metavar="URL")
    data_command(asub, "webhook-secret", print_secret,
                 help="print the secret kept in the database that signs webhooks")


def list_alerts(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    rows = store.list_alerts(conn, live_only=not args.all)
    conn.close()
    print_rows(rows, args.json, lambda a: "%d\t%s\t%s\t%s\t%s\t%s\t%s" % (
        a["id"], a["state"], a["kind"], a["site_id"], a["device_id"] or "-",
        utc_text(a["opened_ms"]), json.dumps(a["detail"])))


def ack_alert(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    try:
        if not store.acknowledge(conn, args.id, args.by):
            raise CliError("alert %d is not open" % args.id)
    finally:
        conn.close()
    print("alert %d acknowledged" % args.id)


def _scope(conn, scope: str) -> str:
    if scope == "*":
        return scope
    kind, _, ident = scope.partition(":")
    if kind == "site":
        if conn.execute("SELECT 1 FROM sites WHERE id = ?", (ident,)).fetchone():
            return scope
        raise CliError("no site %r" % ident)
    if kind == "org" and ident.isdigit():
        if conn.execute("SELECT 1 FROM organisations WHERE id = ?", (int(ident),)).fetchone():
            return scope
        raise CliError("no organisation %s" % ident)
    raise CliError("a scope is '*', org:ID or site:ID, not %r" % scope)


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_rule(args: argparse.Namespace) -> None:
    params = {}
    for item in args.values:
        key, eq, value = item.partition("=")
        if not eq:
            raise CliError("give KEY=VALUE, not %r" % item)
        params[key] = _value(value)
    conn = connect(args.db)
    try:
        scope = _scope(conn, args.scope)
        try:
            params = rules.check_params(args.kind, params)
        except rules.RuleError as e:
            raise CliError(str(e)) from None
        store.set_rule(conn, scope, args.kind, params)
    finally:
        conn.close()
    print("%s %s: %s" % (scope, args.kind, json.dumps(params, sort_keys=True)))


def clear_rule(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    try:
        if not store.clear_rule(conn, args.scope, args.kind):
            raise CliError("%s sets nothing for %s" % (args.scope, args.kind))
    finally:
        conn.close()


def show_rules(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    try:
        stored = store.list_rules(conn)
        if args.site:
            site = conn.execute("SELECT org_id FROM sites WHERE id = ?", (args.site,)).fetchone()
            if site is None:
                raise CliError("no site %r" % args.site)
            rows = [{"scope": "site:" + args.site, "kind": k, "params": p}
                    for k, p in rules.resolve(stored, args.site, site[0]).items()]
        else:
            rows = stored
    finally:
        conn.close()
    print_rows(rows, args.json, lambda r: "%s\t%s\t%s" % (
        r["scope"], r["kind"], json.dumps(r["params"], sort_keys=True)))


def send_test(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config).app_options()
    except SettingsError as e:
        raise CliError(str(e)) from None
    targets = [("email", a) for a in args.email] + [("webhook", u) for u in args.webhook]
    if not targets:
        conn = connect(args.db)
        try:
            notify = rules.resolve(store.list_rules(conn), "", None)["notify"]
        finally:
            conn.close()
        targets = ([("email", a) for a in notify["email"]]
                   + [("webhook", u) for u in notify["webhook"]])
    if not targets:
        raise CliError("nobody to send to: give --email or --webhook, or set recipients with "
                       "`borne alerts rules set '*' notify email=...`")
    failed = 0
    for channel, target, error in asyncio.run(service.send_test(settings, args.db, targets)):
        print("%s %s: %s" % (channel, target, "sent" if error is None else "FAILED, " + error))
        failed += error is not None
    return 1 if failed else 0


def print_secret(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    try:
        print(webhook_secret(conn))
    finally:
        conn.close()
