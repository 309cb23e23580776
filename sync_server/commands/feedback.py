"""`borne qr SITE`: the site's QR form token, its URL and its poster.

    borne qr SITE                       print the form's URL (creating the token)
    borne qr SITE --out poster.pdf      write the A5 poster (.pdf, .svg or .png)
    borne qr SITE --revoke              revoke the token, issue a new one
"""
from __future__ import annotations

import argparse
import os

from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.feedback import answers as feedback
from sync_server.feedback.poster import write_poster
from sync_server.storage.connection import connect, get_setting, set_setting, transaction
from sync_server.storage.registry import UnknownSite, get_site


def add_commands(sub: Subparsers) -> None:
    p = data_command(sub, "qr", run, help="QR feedback form: URL, poster, token revocation")
    p.add_argument("site", help="site id")
    p.add_argument("--out", metavar="FILE", help="write the A5 poster (.pdf, .svg or .png)")
    p.add_argument("--base-url", help="the server's public address as phones reach it "
                   "(default: $BORNE_BASE_URL, else the one given last time)")
    p.add_argument("--revoke", action="store_true",
                   help="revoke the current token (old posters stop working) and issue a new one")


def run(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    base_url = args.base_url or os.environ.get("BORNE_BASE_URL") or get_setting(
        conn, "qr_base_url")
    if not base_url:
        raise CliError("give --base-url, the server's address as citizens' phones reach it "
                       "(e.g. https://avis.example.fr)")
    if not base_url.startswith(("https://", "http://")):
        raise CliError("--base-url must start with https:// or http://")
    if args.out and os.path.splitext(args.out)[1].lower() not in (".pdf", ".svg", ".png"):
        raise CliError("the poster file must end in .pdf, .svg or .png")
    try:
        site = get_site(conn, args.site)
    except UnknownSite:
        raise CliError("unknown site %r (see `borne site list`)" % args.site) from None
    with transaction(conn):
        if args.revoke:
            n = feedback.revoke_tokens(conn, args.site)
            print("revoked %d token(s) of %s" % (n, args.site))
        token = feedback.current_token(conn, args.site)
        set_setting(conn, "qr_base_url", base_url)
    url = feedback.form_url(base_url, token)
    if args.out:
        try:
            write_poster(args.out, site["name"], url)
        except OSError as e:
            raise CliError("cannot write %s: %s" % (args.out, e.strerror or e)) from None
        print("poster for %s written to %s" % (args.site, args.out))
    print(url)
