"""`borne barometer ...`: editions, registrations, the computation of
scores and trophies, and the explanation of an award."""
from __future__ import annotations

import argparse
import json

from sync_server.barometer import compute as computing
from sync_server.barometer import editions
from sync_server.barometer import report as reports
from sync_server.commands.common import Subparsers, checked, data_command, print_rows
from sync_server.errors import CliError
from sync_server.storage import barometer as store
from sync_server.storage import organisations
from sync_server.storage.connection import connect
from sync_server.web import pdf, render


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("barometer", help="the yearly barometer: editions, scores, trophies")
    bsub = p.add_subparsers(dest="barometer_command", metavar="ACTION", required=True)
    ep = bsub.add_parser("edition", help="add or list editions")
    esub = ep.add_subparsers(dest="edition_command", metavar="ACTION", required=True)
    a = data_command(esub, "add", edition_add,
                     help="a new edition (registration until 31 December of its year)")
    a.add_argument("year", type=int)
    a.add_argument("--test-from", metavar="YYYY-MM-DD", help="default: 1 January")
    a.add_argument("--test-to", metavar="YYYY-MM-DD", help="default: 31 December")
    ls = data_command(esub, "list", edition_list, help="list editions")
    ls.add_argument("--json", action="store_true")
    r = data_command(bsub, "register", register, help="register organisations for an edition")
    r.add_argument("--edition", type=int, required=True)
    r.add_argument("organisations", nargs="+", metavar="ORGANISATION", help="name or id")
    c = data_command(bsub, "compute", compute,
                     help="compute an edition's scores, ranks and trophies (again)")
    c.add_argument("--edition", type=int, required=True)
    c.add_argument("--json", action="store_true")
    rp = data_command(bsub, "report", report,
                      help="an organisation's report of a computed edition, as HTML or PDF")
    rp.add_argument("--edition", type=int, required=True)
    rp.add_argument("--org", required=True, metavar="ORGANISATION", help="name or id")
    rp.add_argument("--out", required=True, metavar="FILE",
                    help="FILE.pdf (printed by Chromium) or FILE.html")
    rp.add_argument("--lang", choices=("fr", "en"), default="fr")
    rp.add_argument("--chromium", default=pdf.CHROMIUM, help="the browser that prints the PDF")
    x = data_command(bsub, "explain", explain, help="why an award went to whom")
    x.add_argument("award", help="e.g. category:library, progress, channel:phone")
    x.add_argument("--edition", type=int, required=True)
    x.add_argument("--json", action="store_true")



def edition_add(args: argparse.Namespace) -> None:
    ed = checked(editions.add, connect(args.db), args.year, args.test_from, args.test_to)
    print("edition %d: registration until %s, tests from %s to %s" % (
        ed["year"], ed["registration_deadline"], ed["test_from"], ed["test_to"]))


def edition_list(args: argparse.Namespace) -> None:
    print_rows(store.list_editions(connect(args.db)), args.json,
               lambda r: "%d  registration until %s  tests %s to %s  %d registered%s" % (
                   r["year"], r["registration_deadline"], r["test_from"], r["test_to"],
                   r["registered"], "  computed" if r["computed_ms"] else ""))


def register(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    ids = [checked(organisations.org_id, conn, name) for name in args.organisations]
    for name, org in zip(args.organisations, ids):
        new = checked(editions.register, conn, args.edition, org)
        print("%s %s for edition %d" % (name, "registered" if new else "already registered",
                                         args.edition))


def compute(args: argparse.Namespace) -> None:
    out = checked(computing.compute, connect(args.db), args.edition)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    print("edition %d: %d organisations, %d eligible for a trophy" % (
        out["year"], out["organisations"], out["eligible"]))
    for award, name, score in out["awards"]:
        print("  %-32s %s (%.1f)" % (award, name, score))


def report(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    org = checked(organisations.org_id, conn, args.org)
    data = checked(reports.organisation, conn, args.edition, org)
    if data is None:
        raise CliError("%s has no result in edition %d (registered? `borne barometer compute`"
                       " run?)" % (args.org, args.edition))
    html = render.standalone("barometer_report.html", args.lang, report=data)
    if args.out.lower().endswith(".pdf"):
        try:
            pdf.html_to_pdf(html, args.out, args.chromium)
        except pdf.PdfError as e:
            raise CliError(str(e)) from None
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(html)
    print("report of %s, edition %d: %s" % (args.org, args.edition, args.out))


def explain(args: argparse.Namespace) -> None:
    rows = checked(computing.explain, connect(args.db), args.edition, args.award)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        e = r["evidence"]
        print("%s, edition %d: %s" % (r["award"], args.edition, r["name"]))
        print("  rule: %s" % e["rule"])
        print("  %s: %s (among %d competitors)%s" % (
            e["figure"], e["value"], e["competitors"],
            "; shared with " + ", ".join(e["shared_with"]) if e["shared_with"] else ""))
        print("  category %s, composite %s, %d mystery tests, previous edition %s" % (
            e["category"], e["composite"], e["tests"], e["previous"]))
        for dim, score in e["scores"].items():
            print("    %-22s %6s  (%d checks or responses)" % (
                dim, "-" if score is None else "%.1f" % score, e["checks"][dim]))
        for ru in e["runners_up"]:
            print("  runner-up: %s, %s %s" % (ru["organisation"], e["figure"], ru[e["figure"]]))
