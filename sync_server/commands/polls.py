"""`borne team link ...` (secret links to the agents' pages of a site:
polls and idea box) and `borne poll ...` (internal polls: create, open,
close, export, moderate their free answers)."""
from __future__ import annotations

import argparse
import csv
import json
import sys

from sync_server.commands.common import Subparsers, checked, data_command, print_rows
from sync_server.commands.screen import link_options, public_base
from sync_server.errors import CliError
from sync_server.polls import lifecycle, questions, results
from sync_server.storage import polls as poll_store
from sync_server.storage import registry
from sync_server.storage.connection import connect, utc_text
from sync_server.web import access

EXPORT_COLUMNS = ("poll_id", "group", "respondents", "shown", "question", "kind", "criterion",
                  "option", "count", "happy_index", "positive_share", "low95", "high95")


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("team", help="secret links to the agents' pages of a site (polls, ideas)")
    tsub = p.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    lp = tsub.add_parser("link", help="add, list, rotate or revoke team links")
    lsub = lp.add_subparsers(dest="link_command", metavar="ACTION", required=True)
    where = "where the link is given, e.g. 'salle de pause'"
    link_options(data_command(lsub, "add", team_link_add,
                              help="make a team link for a site; prints it once"), where)
    link_options(data_command(lsub, "rotate", team_link_rotate,
                              help="revoke the site's team links and make a new one"), where)
    ls = data_command(lsub, "list", team_link_list, help="list team links (secrets not kept)")
    ls.add_argument("--site")
    ls.add_argument("--json", action="store_true")
    r = data_command(lsub, "revoke", team_link_revoke, help="stop a team link from opening")
    r.add_argument("id", type=int)

    p = sub.add_parser("poll", help="internal polls of the agents")
    psub = p.add_subparsers(dest="poll_command", metavar="ACTION", required=True)
    c = data_command(psub, "create", poll_create, help="create a draft poll; prints its id")
    c.add_argument("--title-fr", required=True)
    c.add_argument("--title-en", required=True)
    c.add_argument("--site", action="append", required=True, help="a site (repeat for more)")
    c.add_argument("--opens", required=True, metavar="YYYY-MM-DD", help="first day of answers")
    c.add_argument("--closes", required=True, metavar="YYYY-MM-DD", help="last day of answers")
    c.add_argument("--criteria", default="",
                   help="comma-separated quality criteria asked on the 4-level scale: %s"
                        % ",".join(questions.CRITERIA))
    c.add_argument("--questions", metavar="FILE",
                   help="a JSON list of questions (see docs/POLLS.md), after the criteria")
    c.add_argument("--free-text", action="store_true",
                   help="end with the optional free question (shown after moderation)")
    for name, func, text in (("open", poll_open, "open a draft poll to answers"),
                             ("close", poll_close,
                              "close a poll: answers stop, devices are forgotten, results show")):
        a = data_command(psub, name, func, help=text)
        a.add_argument("id", type=int)
    ls = data_command(psub, "list", poll_list, help="list polls")
    ls.add_argument("--json", action="store_true")
    e = data_command(psub, "export", poll_export,
                     help="the results a manager may see (anonymity rules applied)")
    e.add_argument("id", type=int)
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    t = data_command(psub, "texts", poll_texts, help="list a poll's free answers to moderate")
    t.add_argument("id", type=int)
    t.add_argument("--json", action="store_true")
    m = data_command(psub, "moderate", poll_moderate,
                     help="approve or reject a free answer (only approved ones are shown)")
    m.add_argument("text_id", type=int)
    m.add_argument("decision", choices=("approve", "reject"))



def _print_link(args, link_id, key, verb):
    url = "%s/team/%s?key=%s" % (args.base, args.site, key)
    if args.json:
        print(json.dumps({"id": link_id, "url": url, "key": key}))
    else:
        print("team link %d for %s %s (shown once):" % (link_id, args.site, verb))
        print(url)


def team_link_add(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    checked(registry.get_site, conn, args.site)
    args.base = public_base(args, conn)
    link_id, key = checked(access.add_link, conn, args.site, args.label, "team")
    _print_link(args, link_id, key, "made")


def team_link_rotate(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    checked(registry.get_site, conn, args.site)
    args.base = public_base(args, conn)
    link_id, key = checked(access.rotate_links, conn, args.site, args.label, "team")
    _print_link(args, link_id, key, "made; the previous ones no longer open")


def team_link_list(args: argparse.Namespace) -> None:
    print_rows(access.list_links(connect(args.db), args.site, "team"), args.json,
               lambda r: "%4d  %-24s %-20s created %s  %s" % (
                   r["id"], r["site_id"], r["label"] or "-", utc_text(r["created_ms"]),
                   "revoked " + utc_text(r["revoked_ms"]) if r["revoked_ms"] else "active"))


def team_link_revoke(args: argparse.Namespace) -> None:
    checked(access.revoke_link, connect(args.db), args.id, "team")
    print("team link %d revoked" % args.id)


def poll_create(args: argparse.Namespace) -> None:
    qs = [checked(questions.criterion_question, c.strip())
          for c in args.criteria.split(",") if c.strip()]
    if args.questions:
        try:
            with open(args.questions, encoding="utf-8") as f:
                more = json.load(f)
        except (OSError, ValueError) as e:
            raise CliError("cannot read %s: %s" % (args.questions, e)) from None
        qs += more if isinstance(more, list) else [more]
    if args.free_text:
        qs.append(dict(questions.FREE_TEXT))
    poll_id = checked(lifecycle.create, connect(args.db), args.title_fr, args.title_en, qs,
                   args.opens, args.closes, args.site)
    print(poll_id)


def poll_open(args: argparse.Namespace) -> None:
    checked(lifecycle.open_poll, connect(args.db), args.id)
    print("poll %d open" % args.id)


def poll_close(args: argparse.Namespace) -> None:
    checked(lifecycle.close_poll, connect(args.db), args.id)
    print("poll %d closed" % args.id)


def poll_list(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    lifecycle.close_expired(conn)
    rows = poll_store.list_polls(conn)
    print_rows(rows, args.json, lambda p: "%4d  %-6s %s..%s  %-30s %s" % (
        p["id"], p["state"], p["opens_day"], p["closes_day"], p["title_fr"][:30],
        ",".join(p["sites"])))


def export_rows(poll: dict, res: dict) -> list[list]:
    """One CSV row per group, question and option of the results shown."""
    rows = []
    for g in res["groups"] + [res["total"]]:
        if not g["shown"]:
            rows.append([poll["id"], g["site_id"], g["n"], 0] + [""] * 9)
            continue
        for i, (q, fig) in enumerate(zip(poll["questions"], g["questions"])):
            if q["kind"] == "text":
                continue
            for option, count in enumerate(fig["counts"]):
                lo, hi = fig.get("interval") or ("", "")
                rows.append([poll["id"], g["site_id"], g["n"], 1, i, q["kind"], q["criterion"],
                             option, count, fig.get("happy_index", ""),
                             fig.get("positive_share", ""), lo, hi])
    return rows


def poll_export(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    lifecycle.close_expired(conn)
    poll = checked(lifecycle.get, conn, args.id)
    if poll["state"] != "closed":
        raise CliError("poll %d is %s: its results show once it is closed" % (args.id,
                                                                               poll["state"]))
    res = results.poll_results(conn, poll)
    if args.format == "json":
        print(json.dumps({"poll": poll, "results": res}, ensure_ascii=False))
        return
    out = csv.writer(sys.stdout)
    out.writerow(EXPORT_COLUMNS)
    out.writerows(export_rows(poll, res))


def poll_texts(args: argparse.Namespace) -> None:
    from sync_server.feedback.answers import mask_contacts
    rows = [dict(r, text=mask_contacts(r["text"]))
            for r in poll_store.texts(connect(args.db), args.id)]
    print_rows(rows, args.json, lambda r: "%d  %-8s %-20s %s" % (
        r["id"], r["state"], r["site_id"], r["text"].replace("\n", " ")[:80]))


def poll_moderate(args: argparse.Namespace) -> None:
    checked(lifecycle.moderate_text, connect(args.db), args.text_id, args.decision == "approve")
    print("free answer %d %s" % (args.text_id, "approved" if args.decision == "approve"
                                 else "rejected"))
