"""Citizen feedback through a QR code, without the web: one revocable token
per site, the answers the form stores, and their comments for the screens.

`latest_comments(db, site_id, limit)` returns, newest first, dicts
{created_ms, level, scale, topics: [codes], comment} with e-mail addresses
and phone numbers masked by `mask_contacts` (escape before showing). Each
accepted answer also goes to `rollup.apply_votes(..., source="qr")` in the
transaction that stores it.
"""
import re
import secrets
import sqlite3
from typing import Any, Literal, overload

from sync_server.feedback.guard import AddressLimiter
from sync_server.storage import qr, rollup
from sync_server.storage.connection import Db, now_ms, transaction
from sync_server.storage.qr import site_for_token
from sync_server.storage.registry import get_site

__all__ = ["ANSWERED", "current_token", "form_url", "latest_comments", "mask_contacts",
           "OVER_BUDGET", "revoke_tokens", "site_for_token", "STORED", "store_answer"]

# ---------------------------------------------------------------- tokens


@overload
def current_token(conn: Db, site_id: str, create: Literal[True] = ...) -> str: ...
@overload
def current_token(conn: Db, site_id: str, create: bool) -> str | None: ...


def current_token(conn: Db, site_id: str, create: bool = True) -> str | None:
    """The site's active token, creating one if it has none and `create`."""
    get_site(conn, site_id)
    token = qr.active_token(conn, site_id)
    if token or not create:
        return token
    token = secrets.token_urlsafe(12)
    qr.add_token(conn, token, site_id, now_ms())
    return token


def revoke_tokens(conn: Db, site_id: str) -> int:
    """Revoke every active token of the site; return how many."""
    get_site(conn, site_id)
    return qr.revoke_tokens(conn, site_id, now_ms())


def form_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + "/f/" + token


# ---------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French numbers (0X XX XX XX XX, +33 X XX XX XX XX, 0033...) with spaces,
# dots or dashes, and any other international number written with a +.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9]|0[1-9])(?:[\s.\-]?\d{2}){4}(?!\d)"
    r"|(?<![\w+])\+\d(?:[\s.\-]?\d){6,14}(?!\d)")
MASKS = {"fr": ("[adresse masquée]", "[numéro masqué]"),
         "en": ("[address hidden]", "[number hidden]")}


def mask_contacts(text: str | None, lang: str = "fr") -> str:
    """Replace e-mail addresses and phone numbers in a comment before display."""
    email_mask, phone_mask = MASKS.get(lang, MASKS["fr"])
    return _PHONE.sub(phone_mask, _EMAIL.sub(email_mask, text or ""))


def latest_comments(db: Db, site_id: str, limit: int = 10) -> list[dict]:
    rows = qr.latest_comments(db, site_id, limit)
    for r in rows:
        r["comment"] = mask_contacts(r["comment"])
    return rows


# ---------------------------------------------------------------- storing


STORED, ANSWERED, OVER_BUDGET = "stored", "answered", "over_budget"


def store_answer(conn: sqlite3.Connection, site_id: str, token: str, scale: int,
                 answer: dict[str, Any], limiter: AddressLimiter, address: str,
                 at_ms: int, form: str, form_expires_ms: int) -> str:
    """Store one validated answer and its rollup, once per form: STORED;
    ANSWERED if the form (its CSRF field) was answered already; OVER_BUDGET
    if the address is out of budget (the refusal is remembered, nothing
    stored)."""
    with transaction(conn):
        if qr.form_used(conn, form):
            return ANSWERED
        if not limiter.take(conn, address, at_ms):
            return OVER_BUDGET
        qr.use_form(conn, form, at_ms, form_expires_ms)
        qr.add_answer(conn, site_id, token, scale, answer, at_ms)
        rollup.apply_votes(conn, [{"site_id": site_id, "utc_ms": at_ms,
                                   "level": answer["level"], "scale": scale, "flags": 0}],
                           source="qr")
    return STORED
