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

from sync_server.feedback import guard
from sync_server.storage import rollup
from sync_server.storage.connection import raw_conn, transaction
from sync_server.storage.registry import get_site

# ---------------------------------------------------------------- tokens


def current_token(conn, site_id, create=True):
    """The site's active token, creating one if it has none and `create`."""
    get_site(conn, site_id)
    row = conn.execute("SELECT token FROM qr_tokens WHERE site_id = ? AND revoked_ms IS NULL "
                       "ORDER BY created_ms DESC LIMIT 1", (site_id,)).fetchone()
    if row:
        return row[0]
    if not create:
        return None
    token = secrets.token_urlsafe(12)
    conn.execute("INSERT INTO qr_tokens (token, site_id, created_ms) VALUES (?, ?, ?)",
                 (token, site_id, guard.now_ms()))
    return token


def revoke_tokens(conn, site_id):
    """Revoke every active token of the site; return how many."""
    get_site(conn, site_id)
    cur = conn.execute("UPDATE qr_tokens SET revoked_ms = ? WHERE site_id = ? "
                       "AND revoked_ms IS NULL", (guard.now_ms(), site_id))
    return cur.rowcount


def form_url(base_url, token):
    return base_url.rstrip("/") + "/f/" + token


def site_for_token(conn, token):
    """(site_id, name, buttons) for an active token, else None."""
    return conn.execute(
        "SELECT s.id, s.name, s.buttons FROM qr_tokens t JOIN sites s ON s.id = t.site_id "
        "WHERE t.token = ? AND t.revoked_ms IS NULL", (token,)).fetchone()


# ---------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French numbers (0X XX XX XX XX, +33 X XX XX XX XX, 0033...) with spaces,
# dots or dashes, and any other international number written with a +.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?33\s?(?:\(0\)\s?)?[1-9]|0[1-9])(?:[\s.\-]?\d{2}){4}(?!\d)"
    r"|(?<![\w+])\+\d(?:[\s.\-]?\d){6,14}(?!\d)")
MASKS = {"fr": ("[adresse masquée]", "[numéro masqué]"),
         "en": ("[address hidden]", "[number hidden]")}


def mask_contacts(text, lang="fr"):
    """Replace e-mail addresses and phone numbers in a comment before display."""
    email_mask, phone_mask = MASKS.get(lang, MASKS["fr"])
    return _PHONE.sub(phone_mask, _EMAIL.sub(email_mask, text or ""))


def latest_comments(db, site_id, limit=10):
    conn = raw_conn(db)
    rows = conn.execute(
        "SELECT created_ms, level, scale, topics, comment FROM qr_answers "
        "WHERE site_id = ? AND comment != '' ORDER BY created_ms DESC, id DESC LIMIT ?",
        (site_id, int(limit))).fetchall()
    return [{"created_ms": r[0], "level": r[1], "scale": r[2],
             "topics": [t for t in r[3].split(",") if t], "comment": mask_contacts(r[4])}
            for r in rows]


# ---------------------------------------------------------------- storing


class OverLimit(Exception):
    pass


def store_answer(conn, site_id, token, scale, answer, limiter, address, at_ms):
    """Insert one validated answer and its rollup; OverLimit if the address
    has used its hourly quota (nothing is stored then)."""
    with transaction(conn):
        if not limiter.take(conn, address, at_ms):
            raise OverLimit()
        conn.execute(
            "INSERT INTO qr_answers (site_id, token, level, scale, topics, comment, lang, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (site_id, token, answer["level"], scale, ",".join(answer["topics"]),
             answer["comment"], answer["lang"], at_ms))
        rollup.apply_votes(conn, [{"site_id": site_id, "utc_ms": at_ms,
                                   "level": answer["level"], "scale": scale, "flags": 0}],
                           source="qr")
