"""`borne token add/list/revoke`: tokens for the JSON API, sent as
`Authorization: Bearer TOKEN`."""
from __future__ import annotations

import argparse
import json

from sync_server.commands.common import Subparsers, data_command, print_rows
from sync_server.errors import CliError
from sync_server.storage import tokens
from sync_server.storage.connection import connect, utc_text


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("token", help="tokens for the JSON API (Authorization: Bearer)")
    tsub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    a = data_command(tsub, "add", token_add, help="make a token; prints it once")
    a.add_argument("--scope", choices=tokens.SCOPES, default="read",
                   help="read: every GET of the API (default); admin: also its writes")
    a.add_argument("--label", default="", help="who or what uses it")
    a.add_argument("--json", action="store_true", help='one line {"id", "scope", "token"}')
    ls = data_command(tsub, "list", token_list, help="list tokens (their secrets are not kept)")
    ls.add_argument("--json", action="store_true")
    r = data_command(tsub, "revoke", token_revoke, help="refuse a token from now on")
    r.add_argument("id", type=int)


def token_add(args: argparse.Namespace) -> None:
    try:
        token_id, token = tokens.add_token(connect(args.db), args.scope, args.label)
    except ValueError as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps({"id": token_id, "scope": args.scope, "token": token}))
    else:
        print("API token %d, scope %s (shown once):" % (token_id, args.scope))
        print(token)


def token_list(args: argparse.Namespace) -> None:
    print_rows(tokens.list_tokens(connect(args.db)), args.json,
               lambda r: "%4d  %-6s %-24s created %s  %s" % (
                   r["id"], r["scope"], r["label"] or "-", utc_text(r["created_ms"]),
                   "revoked " + utc_text(r["revoked_ms"]) if r["revoked_ms"] else "active"))


def token_revoke(args: argparse.Namespace) -> None:
    try:
        tokens.revoke_token(connect(args.db), args.id)
    except ValueError as e:
        raise CliError(str(e)) from None
    print("API token %d revoked" % args.id)
