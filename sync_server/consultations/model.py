"""What a consultation may be and how its life goes: the checks of its
fields (one set for the manager's forms and `borne consultation`), and the
moves draft -> open -> closed -> archived.

Errors are codes with arguments, (field, code, args): the web pages and
the command line write them in their own words (`web.i18n`'s
`cons_err_<code>` texts)."""
import datetime
import secrets
import sqlite3
import zoneinfo
from collections.abc import Iterable
from typing import Any

from sync_server.storage import consultations as store
from sync_server.storage import rollup
from sync_server.storage.connection import Db, now_ms, transaction
from sync_server.storage.registry import DEFAULT_TZ

MAX_TITLE = 120
MAX_QUESTION = 300
MAX_ANSWER = 80
MIN_ANSWERS, MAX_ANSWERS = 2, 8
KIOSK_CHOICES = (0, 2, 3, 4)  # 0: phone only
STATES = ("draft", "open", "closed", "archived")
# state -> the states it may move to
MOVES = {"draft": ("open", "archived"), "open": ("closed",), "closed": ("open", "archived"),
         "archived": ()}


class ConsultationError(ValueError):
    """A refused change: `errors` is a list of (field, code, args)."""

    def __init__(self, errors: list[tuple[str, str, tuple]]) -> None:
        super().__init__("; ".join("%s: %s" % (f, c) for f, c, _ in errors))
        self.errors = errors


def parse_local(text: str, tz: str = DEFAULT_TZ) -> int | None:
    """'YYYY-MM-DD HH:MM' (or with a T, as a datetime-local field sends it)
    in the zone `tz`, as UTC milliseconds; None if unreadable."""
    try:
        moment = datetime.datetime.strptime(text.strip().replace("T", " ")[:16],
                                            "%Y-%m-%d %H:%M")
    except ValueError:
        return None
    if not 2000 <= moment.year <= 2100:
        return None
    return int(moment.replace(tzinfo=zoneinfo.ZoneInfo(tz)).timestamp() * 1000)


def local_text(ms: int, tz: str = DEFAULT_TZ) -> str:
    """The inverse of parse_local: 'YYYY-MM-DD HH:MM' in the zone `tz`."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M")


def _text(form: dict[str, Any], name: str, limit: int,
          errors: list[tuple[str, str, tuple]]) -> str:
    value = str(form.get(name) or "").replace("\r\n", "\n").strip()
    if not value:
        errors.append((name, "missing", ()))
    elif len(value) > limit:
        errors.append((name, "too_long", (limit,)))
    elif any(ord(ch) < 32 and ch != "\n" for ch in value):
        errors.append((name, "control", ()))
    return value


def check(form: dict[str, Any], site_ids: set[str]) -> tuple[dict[str, Any], list[str],
                                                             list[tuple[str, str, tuple]]]:
    """Check a consultation's fields as typed: form holds title_fr, title_en,
    question_fr, question_en, answers (list of (fr, en) pairs; blank pairs
    are dropped), kiosk_answers, opens and closes ('YYYY-MM-DD HH:MM',
    Paris time), ideas, live_results (booleans) and sites (list of ids).
    Returns (fields for storage, site ids, errors)."""
    errors: list[tuple[str, str, tuple]] = []
    fields: dict[str, Any] = {}
    for name, limit in (("title_fr", MAX_TITLE), ("title_en", MAX_TITLE),
                        ("question_fr", MAX_QUESTION), ("question_en", MAX_QUESTION)):
        fields[name] = _text(form, name, limit, errors)
    answers: list[dict[str, str]] = []
    for fr, en in form.get("answers") or []:
        fr, en = (fr or "").strip(), (en or "").strip()
        if not fr and not en:
            continue
        if not fr or not en:
            errors.append(("answers", "answer_half", (len(answers) + 1,)))
        elif len(fr) > MAX_ANSWER or len(en) > MAX_ANSWER:
            errors.append(("answers", "answer_long", (len(answers) + 1, MAX_ANSWER)))
        answers.append({"fr": fr, "en": en})
    if not MIN_ANSWERS <= len(answers) <= MAX_ANSWERS:
        errors.append(("answers", "answer_count", (MIN_ANSWERS, MAX_ANSWERS)))
    fields["answers"] = answers
    try:
        kiosk = int(form.get("kiosk_answers") or 0)
    except (TypeError, ValueError):
        kiosk = -1
    if kiosk not in KIOSK_CHOICES:
        errors.append(("kiosk_answers", "kiosk_bad", ()))
    elif kiosk > len(answers):
        errors.append(("kiosk_answers", "kiosk_more", (len(answers),)))
    fields["kiosk_answers"] = kiosk
    for name in ("opens", "closes"):
        ms = parse_local(str(form.get(name) or ""))
        if ms is None:
            errors.append((name, "bad_time", ()))
        fields[name + "_ms"] = ms
    if fields["opens_ms"] is not None and fields["closes_ms"] is not None \
            and fields["closes_ms"] <= fields["opens_ms"]:
        errors.append(("closes", "order", ()))
    fields["ideas"] = 1 if form.get("ideas") else 0
    fields["live_results"] = 1 if form.get("live_results") else 0
    sites = list(dict.fromkeys(form.get("sites") or []))
    if not sites:
        errors.append(("sites", "no_site", ()))
    unknown = [s for s in sites if s not in site_ids]
    if unknown:
        errors.append(("sites", "unknown_site", (", ".join(unknown),)))
    return fields, sites, errors


def form_of(c: dict, sites: list[str]) -> dict[str, Any]:
    """A stored consultation as check() takes it (the edit form's values)."""
    return {"title_fr": c["title_fr"], "title_en": c["title_en"],
            "question_fr": c["question_fr"], "question_en": c["question_en"],
            "answers": [(a["fr"], a["en"]) for a in c["answers"]],
            "kiosk_answers": c["kiosk_answers"], "opens": local_text(c["opens_ms"]),
            "closes": local_text(c["closes_ms"]), "ideas": c["ideas"],
            "live_results": c["live_results"], "sites": sites}


def _site_ids(conn: Db, within: Iterable[str] | None = None) -> set[str]:
    """The sites in service (of those `within` if given)."""
    ids = {r[0] for r in conn.execute("SELECT id FROM sites WHERE archived_ms IS NULL")}
    return ids if within is None else ids & set(within)


def create(conn: sqlite3.Connection, form: dict[str, Any], cid: int | None = None,
           within: Iterable[str] | None = None) -> int:
    """A new consultation in draft; its number (the lowest free one unless
    `cid`). ConsultationError if a field is wrong or a site is not in
    service (or not among `within`, a manager's sites)."""
    fields, sites, errors = check(form, _site_ids(conn, within))
    if cid is not None and not store.MIN_ID <= cid <= store.MAX_ID:
        errors.append(("id", "id_range", (store.MIN_ID, store.MAX_ID)))
    if errors:
        raise ConsultationError(errors)
    with transaction(conn):
        if cid is None:
            try:
                cid = store.next_id(conn)
            except store.NoFreeId:
                raise ConsultationError([("id", "id_full", ())]) from None
        elif store.get(conn, cid) is not None:
            raise ConsultationError([("id", "id_taken", (cid,))])
        store.insert(conn, cid, secrets.token_urlsafe(12), fields, now_ms())
        store.set_sites(conn, cid, sites)
    return cid


def edit(conn: sqlite3.Connection, cid: int, changes: dict[str, Any],
         within: Iterable[str] | None = None) -> None:
    """Change some fields (same names as create's form). The answers and
    the kiosk card cannot change once the consultation has opened (answers
    already given refer to them); nothing changes once archived. A site
    added must be in service (and among `within` if given)."""
    with transaction(conn):
        c = get(conn, cid)
        sites = [s["id"] for s in store.sites_of(conn, cid)]
        form = {**form_of(c, sites), **changes}
        fields, new_sites, errors = check(form, _site_ids(conn, within) | set(sites))
        if c["state"] == "archived":
            errors.append(("state", "archived", ()))
        elif c["state"] != "draft" and (fields["answers"] != c["answers"]
                                        or fields["kiosk_answers"] != c["kiosk_answers"]):
            errors.append(("answers", "answers_frozen", ()))
        if errors:
            raise ConsultationError(errors)
        store.update(conn, cid, fields, now_ms())
        store.set_sites(conn, cid, new_sites)
        rollup.bump(conn, set(sites) | set(new_sites))  # their screens show it


def get(conn: Db, cid: int) -> dict:
    """The consultation; ConsultationError('unknown') if there is none."""
    c = store.get(conn, cid)
    if c is None:
        raise ConsultationError([("id", "unknown", (cid,))])
    return c


def move(conn: sqlite3.Connection, cid: int, state: str) -> None:
    """Open, close or archive (and reopen a closed one); the live screens
of its sites are told."""
    with transaction(conn):
        c = get(conn, cid)
        if state not in MOVES[c["state"]]:
            raise ConsultationError([("state", "move", (c["state"], state))])
        store.set_state(conn, cid, state, now_ms())
        rollup.bump(conn, [s["id"] for s in store.sites_of(conn, cid)])


def running(c: dict, at_ms: int | None = None) -> bool:
    """Whether the consultation takes answers now: open, and between its
    opening and closing times."""
    at_ms = now_ms() if at_ms is None else at_ms
    return c["state"] == "open" and c["opens_ms"] <= at_ms < c["closes_ms"]


def ended(c: dict, at_ms: int | None = None) -> bool:
    """Closed or archived by a manager, or open past its closing time."""
    at_ms = now_ms() if at_ms is None else at_ms
    return c["state"] in ("closed", "archived") or (c["state"] == "open"
                                                    and at_ms >= c["closes_ms"])


def results_public(c: dict, at_ms: int | None = None) -> bool:
    """Results are public once the consultation has ended, or while it
    runs if the manager chose live results; never for a draft."""
    if c["state"] == "draft":
        return False
    return ended(c, at_ms) or (c["live_results"] and c["opens_ms"] <= (
        now_ms() if at_ms is None else at_ms))
