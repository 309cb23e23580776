"""What the phone page stores: an answer (with an idea, if the consultation
collects them) and a +1 to a published idea, under the QR form's abuse
limits (`feedback.guard.AddressLimiter`, the per-address budget) and its
single-use records (`storage.qr.use_form`): one answer per phone and one
support per idea and phone.

"A phone" is the browser's CSRF nonce cookie (`web.csrf`): the records
keep only a SHA-256 of it with the consultation (or idea) number, never an
address. A phone that drops its cookies is a new phone, as on the QR
form; the address budget stops a script doing so in a loop."""
import hashlib
import sqlite3

from sync_server.feedback.answers import mask_contacts
from sync_server.feedback.guard import AddressLimiter
from sync_server.storage import consultations as store
from sync_server.storage import qr, rollup
from sync_server.storage.connection import Db, transaction

STORED, ANSWERED, OVER_BUDGET, CLOSED, UNKNOWN = (
    "stored", "answered", "over_budget", "closed", "unknown")
MAX_IDEA = 1000
YEAR_MS = 366 * 24 * 3600 * 1000  # how long a record outlives the consultation's close


def phone_key(kind: str, number: int, phone: str) -> str:
    """The single-use record of a phone's answer ('c') or support ('s')."""
    return "%s%d:%s" % (kind, number, hashlib.sha256(phone.encode()).hexdigest())


def has_answered(conn: Db, cid: int, phone: str | None) -> bool:
    return bool(phone) and qr.form_used(conn, phone_key("c", cid, phone or ""))


def has_supported(conn: Db, idea_id: int, phone: str | None) -> bool:
    return bool(phone) and qr.form_used(conn, phone_key("s", idea_id, phone or ""))


def store_answer(conn: sqlite3.Connection, c: dict, site_id: str, answer: int, idea: str,
                 lang: str, limiter: AddressLimiter, address: str, phone: str,
                 at_ms: int) -> str:
    """Store one validated answer (and its idea, pending moderation):
    STORED; ANSWERED if this phone answered already; OVER_BUDGET if the
    address is out of budget (remembered, nothing stored)."""
    key = phone_key("c", c["id"], phone)
    with transaction(conn):
        if qr.form_used(conn, key):
            return ANSWERED
        if not limiter.take(conn, address, at_ms):
            return OVER_BUDGET
        qr.use_form(conn, key, at_ms, max(at_ms, c["closes_ms"]) + YEAR_MS)
        store.add_phone_answer(conn, c["id"], site_id, answer, at_ms)
        if idea and c["ideas"]:
            store.add_idea(conn, c["id"], site_id, idea, lang, at_ms)
        rollup.bump(conn, [site_id])  # the site's live screen shows the turnout
    return STORED


def support(conn: sqlite3.Connection, c: dict, idea_id: int, limiter: AddressLimiter,
            address: str, phone: str, at_ms: int) -> str:
    """+1 to an approved idea of `c`, once per phone: STORED, ANSWERED
    (already supported), OVER_BUDGET, UNKNOWN (no such published idea)."""
    key = phone_key("s", idea_id, phone)
    with transaction(conn):
        idea = store.get_idea(conn, idea_id)
        if idea is None or idea["consultation_id"] != c["id"] or idea["state"] != "approved":
            return UNKNOWN
        if qr.form_used(conn, key):
            return ANSWERED
        if not limiter.take(conn, address, at_ms):
            return OVER_BUDGET
        qr.use_form(conn, key, at_ms, max(at_ms, c["closes_ms"]) + YEAR_MS)
        store.add_support(conn, idea_id)
    return STORED


def published_ideas(conn: Db, cid: int, lang: str = "fr") -> list[dict]:
    """Approved ideas, most supported first, contacts masked."""
    rows = store.ideas(conn, cid, "approved")
    for r in rows:
        r["text"] = mask_contacts(r["text"], lang)
    return rows


def queue(conn: Db, cid: int, lang: str = "fr") -> list[dict]:
    """Ideas waiting for moderation, oldest first, contacts masked: the
    moderator never sees them either."""
    rows = store.ideas(conn, cid, "pending")
    for r in rows:
        r["text"] = mask_contacts(r["text"], lang)
    return rows


def moderate(conn: sqlite3.Connection, idea_id: int, approve: bool, reason: str,
             at_ms: int) -> dict | None:
    """Approve, or reject with a reason, a pending idea; return it (None if
    unknown). A rejection needs a reason (ValueError)."""
    reason = reason.strip()
    if not approve and not reason:
        raise ValueError("reason")
    with transaction(conn):
        idea = store.get_idea(conn, idea_id)
        if idea is None:
            return None
        store.moderate(conn, idea_id, "approved" if approve else "rejected",
                       "" if approve else reason, at_ms)
    return idea
