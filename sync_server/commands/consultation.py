"""`borne consultation ...`: public consultations from the command line.

    borne consultation add --title-fr T --title-en T --question-fr Q --question-en Q
                           --answer "Oui|Yes" --answer "Non|No" [--kiosk-answers 2]
                           --site SITE [--site SITE] --opens "2026-12-01 08:00"
                           --closes "2026-12-15 18:00" [--ideas] [--live-results] [--id N]
    borne consultation edit ID [any option of add]
    borne consultation open|close|archive ID
    borne consultation list [--json]
    borne consultation show ID [--json]
    borne consultation results ID [--json]
    borne consultation export ID --format csv|json [--out FILE]
    borne consultation poster ID --out FILE [--site SITE] [--base-url URL]
    borne consultation card ID --out FILE

Times are Paris time, YYYY-MM-DD HH:MM."""
from __future__ import annotations

import argparse
import json
import os

from sync_server.commands.common import Subparsers, add_db_argument, existing_db, print_rows
from sync_server.consultations import card, model, opendata, results
from sync_server.errors import CliError
from sync_server.feedback.poster import write_poster
from sync_server.storage import consultations as store
from sync_server.storage.connection import connect, get_setting, set_setting, transaction
from sync_server.web.i18n import consultation_error

OPTIONS = (("--title-fr", "title_fr"), ("--title-en", "title_en"),
           ("--question-fr", "question_fr"), ("--question-en", "question_en"),
           ("--opens", "opens"), ("--closes", "closes"))


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("consultation", help="public consultations: create, open, close, "
                       "results, open data")
    add_db_argument(p)
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    verb_parser = verbs.add_parser

    def add_verb(name: str, **kwargs):
        """A verb that also takes --db after it, as the other commands do."""
        v = verb_parser(name, **kwargs)
        v.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return v
    for verb in ("add", "edit"):
        v = add_verb(verb, help="create a consultation (in draft)" if verb == "add"
                             else "change a consultation")
        if verb == "edit":
            v.add_argument("id", type=int)
        else:
            v.add_argument("--id", type=int, help="its number, 1..65535 (default: lowest free)")
        for flag, _ in OPTIONS:
            v.add_argument(flag, help="Paris time, YYYY-MM-DD HH:MM" if flag in (
                "--opens", "--closes") else None)
        v.add_argument("--answer", action="append", metavar="FR|EN",
                       help="an answer, French and English separated by |; 2 to 8, in order")
        v.add_argument("--kiosk-answers", type=int,
                       help="how many first answers the kiosk card shows: 2..4, 0 for phone only")
        v.add_argument("--site", action="append", help="a site where it runs (repeat)")
        for name in ("ideas", "live-results"):
            v.add_argument("--" + name, action=argparse.BooleanOptionalAction, default=None,
                           help="collect ideas" if name == "ideas"
                           else "publish results while it runs")
        v.set_defaults(func=run_add if verb == "add" else run_edit)
    for verb, state in (("open", "open"), ("close", "closed"), ("archive", "archived")):
        v = add_verb(verb, help="%s a consultation" % verb)
        v.add_argument("id", type=int)
        v.set_defaults(func=run_move, state=state)
    v = add_verb("list", help="every consultation")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=run_list)
    for verb, func, text in (("show", run_show, "one consultation"),
                             ("results", run_results, "its results")):
        v = add_verb(verb, help=text)
        v.add_argument("id", type=int)
        v.add_argument("--json", action="store_true")
        v.set_defaults(func=func)
    v = add_verb("export", help="the results as open data (CSV or JSON)")
    v.add_argument("id", type=int)
    v.add_argument("--format", choices=("csv", "json"), required=True)
    v.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    v.set_defaults(func=run_export)
    v = add_verb("poster", help="the A5 poster of its phone page")
    v.add_argument("id", type=int)
    v.add_argument("--out", metavar="FILE", required=True, help=".pdf, .svg or .png")
    v.add_argument("--site", help="answers through this poster count for this site")
    v.add_argument("--base-url", help="the server's public address (default: as for `borne qr`)")
    v.set_defaults(func=run_poster)
    v = add_verb("card", help="the printed card of the kiosk: the answers under the buttons")
    v.add_argument("id", type=int)
    v.add_argument("--out", metavar="FILE", required=True, help=".pdf, .svg or .png")
    v.set_defaults(func=run_card)


def _fail(e: model.ConsultationError) -> CliError:
    return CliError("; ".join("%s: %s" % (field, consultation_error(code, args, "en"))
                              for field, code, args in e.errors))


def _conn(args: argparse.Namespace):
    return connect(existing_db(args.db))


def _form(args: argparse.Namespace) -> dict:
    form = {name: getattr(args, flag[2:].replace("-", "_")) for flag, name in OPTIONS}
    if args.answer is not None:
        form["answers"] = [tuple(a.split("|", 1)) if "|" in a else (a, "") for a in args.answer]
    if args.kiosk_answers is not None:
        form["kiosk_answers"] = args.kiosk_answers
    if args.site is not None:
        form["sites"] = args.site
    form["ideas"], form["live_results"] = args.ideas, args.live_results
    return {k: v for k, v in form.items() if v is not None}


def run_add(args: argparse.Namespace) -> None:
    conn = _conn(args)
    try:
        cid = model.create(conn, _form(args), args.id)
    except model.ConsultationError as e:
        raise _fail(e) from None
    c = store.get(conn, cid)
    assert c is not None
    print("consultation %d added (draft), phone page /c/%s" % (cid, c["token"]))


def run_edit(args: argparse.Namespace) -> None:
    try:
        model.edit(_conn(args), args.id, _form(args))
    except model.ConsultationError as e:
        raise _fail(e) from None
    print("consultation %d changed" % args.id)


def run_move(args: argparse.Namespace) -> None:
    try:
        model.move(_conn(args), args.id, args.state)
    except model.ConsultationError as e:
        raise _fail(e) from None
    print("consultation %d %s" % (args.id, args.state))


def _summary(conn, c: dict) -> dict:
    return {"id": c["id"], "state": c["state"], "title_fr": c["title_fr"],
            "title_en": c["title_en"], "opens": model.local_text(c["opens_ms"]),
            "closes": model.local_text(c["closes_ms"]), "token": c["token"],
            "sites": [s["id"] for s in store.sites_of(conn, c["id"])],
            "answers": store.answer_total(conn, c["id"])}


def run_list(args: argparse.Namespace) -> None:
    conn = _conn(args)
    rows = [_summary(conn, c) for c in store.list_all(conn)]
    print_rows(rows, args.json, lambda r: "%5d  %-8s  %s -> %s  %s  (%d answers)" % (
        r["id"], r["state"], r["opens"], r["closes"], r["title_fr"], r["answers"]))


def _get(conn, cid: int) -> dict:
    try:
        return model.get(conn, cid)
    except model.ConsultationError as e:
        raise _fail(e) from None


def run_show(args: argparse.Namespace) -> None:
    conn = _conn(args)
    c = _get(conn, args.id)
    info = {**_summary(conn, c), "question_fr": c["question_fr"],
            "question_en": c["question_en"], "answer_texts": c["answers"],
            "kiosk_answers": c["kiosk_answers"], "ideas": c["ideas"],
            "live_results": c["live_results"], "pending_ideas": len(
                store.ideas(conn, c["id"], "pending"))}
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return
    for k, v in info.items():
        print("%s: %s" % (k, v))


def run_results(args: argparse.Namespace) -> None:
    conn = _conn(args)
    _get(conn, args.id)
    res = results.compute(conn, args.id)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return
    labels = [a["fr"] for a in res["answers"]]
    scopes = [("overall", res["overall"])] + [(s["site_id"], s) for s in res["sites"]]
    for name, blocks in scopes:
        for ch in ("kiosk", "phone", "all"):
            b = blocks[ch]
            print("%s / %s: %d counted, %d filtered" % (name, ch, b["n"], b["filtered"]))
            for a in b["answers"]:
                if a["share"] is not None:
                    print("  %-30s %6d  %5.1f%%  [%5.1f%%, %5.1f%%]" % (
                        labels[a["index"]], a["count"], 100 * a["share"], 100 * a["low95"],
                        100 * a["high95"]))
    for d in res["turnout"]:
        print("%s  kiosk %d  phone %d  all %d" % (d["day"], d["kiosk"], d["phone"], d["all"]))
    if res["undated"]:
        print("%d kiosk answers wait for their time (not counted yet)" % res["undated"])


def run_export(args: argparse.Namespace) -> None:
    conn = _conn(args)
    _get(conn, args.id)
    res = results.compute(conn, args.id)
    text = opendata.to_json(res) if args.format == "json" else opendata.to_csv(res)
    if not args.out:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    except OSError as e:
        raise CliError("cannot write %s: %s" % (args.out, e.strerror or e)) from None
    print("results of consultation %d written to %s" % (args.id, args.out))


def page_url(base_url: str, token: str, site_id: str | None = None) -> str:
    return base_url.rstrip("/") + "/c/" + token + ("?site=" + site_id if site_id else "")


def run_poster(args: argparse.Namespace) -> None:
    conn = _conn(args)
    c = _get(conn, args.id)
    base_url = args.base_url or os.environ.get("BORNE_BASE_URL") or get_setting(
        conn, "qr_base_url")
    if not base_url or not base_url.startswith(("https://", "http://")):
        raise CliError("give --base-url, the server's address as citizens' phones reach it "
                       "(https://...)")
    if os.path.splitext(args.out)[1].lower() not in (".pdf", ".svg", ".png"):
        raise CliError("the poster file must end in .pdf, .svg or .png")
    if args.site and args.site not in [s["id"] for s in store.sites_of(conn, c["id"])]:
        raise CliError("consultation %d does not run at site %r" % (c["id"], args.site))
    with transaction(conn):
        set_setting(conn, "qr_base_url", base_url)
    url = page_url(base_url, c["token"], args.site)
    try:
        write_poster(args.out, c["title_fr"], url)
    except OSError as e:
        raise CliError("cannot write %s: %s" % (args.out, e.strerror or e)) from None
    print("poster of consultation %d written to %s" % (c["id"], args.out))
    print(url)


def run_card(args: argparse.Namespace) -> None:
    c = _get(_conn(args), args.id)
    if os.path.splitext(args.out)[1].lower() not in (".pdf", ".svg", ".png"):
        raise CliError("the card file must end in .pdf, .svg or .png")
    if not c["kiosk_answers"]:
        raise CliError("consultation %d is for phones only: no kiosk card" % c["id"])
    try:
        card.write_card(args.out, c)
    except OSError as e:
        raise CliError("cannot write %s: %s" % (args.out, e.strerror or e)) from None
    print("kiosk card of consultation %d written to %s" % (c["id"], args.out))
