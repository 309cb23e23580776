"""The QR feedback tables: tokens (qr_tokens), answers (qr_answers), the
answered forms (qr_used_forms) and the per-address budgets (qr_address_budget)."""
from sync_server.storage.connection import Db, raw_conn, row_dicts


def active_token(conn: Db, site_id: str) -> str | None:
    """The site's newest token not revoked, else None."""
    row = raw_conn(conn).execute(
        "SELECT token FROM qr_tokens WHERE site_id = ? AND revoked_ms IS NULL "
        "ORDER BY created_ms DESC LIMIT 1", (site_id,)).fetchone()
    return row[0] if row else None


def add_token(conn: Db, token: str, site_id: str, at_ms: int) -> None:
    raw_conn(conn).execute("INSERT INTO qr_tokens (token, site_id, created_ms) VALUES (?, ?, ?)",
                           (token, site_id, at_ms))


def revoke_tokens(conn: Db, site_id: str, at_ms: int) -> int:
    """Revoke every active token of the site; return how many."""
    return raw_conn(conn).execute(
        "UPDATE qr_tokens SET revoked_ms = ? WHERE site_id = ? AND revoked_ms IS NULL",
        (at_ms, site_id)).rowcount


def site_for_token(conn: Db, token: str) -> tuple | None:
    """(site_id, name, buttons) for an active token, else None."""
    return raw_conn(conn).execute(
        "SELECT s.id, s.name, s.buttons FROM qr_tokens t JOIN sites s ON s.id = t.site_id "
        "WHERE t.token = ? AND t.revoked_ms IS NULL", (token,)).fetchone()


def add_answer(conn: Db, site_id: str, token: str, scale: int, answer: dict, at_ms: int) -> None:
    """answer: {level, topics: [codes], comment, lang}."""
    raw_conn(conn).execute(
        "INSERT INTO qr_answers (site_id, token, level, scale, topics, comment, lang, "
        "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (site_id, token, answer["level"], scale, ",".join(answer["topics"]),
         answer["comment"], answer["lang"], at_ms))


def latest_comments(conn: Db, site_id: str, limit: int) -> list[dict]:
    """Answers with a comment, newest first: {created_ms, level, scale,
    topics: [codes], comment}, comments as stored (unmasked)."""
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT created_ms, level, scale, topics, comment FROM qr_answers "
        "WHERE site_id = ? AND comment != '' ORDER BY created_ms DESC, id DESC LIMIT ?",
        (site_id, int(limit))))
    for r in rows:
        r["topics"] = [t for t in r["topics"].split(",") if t]
    return rows


def form_used(conn: Db, form: str) -> bool:
    """Whether an answer was already stored from this form."""
    return raw_conn(conn).execute("SELECT 1 FROM qr_used_forms WHERE form = ?",
                                  (form,)).fetchone() is not None


def use_form(conn: Db, form: str, at_ms: int, expires_ms: int) -> bool:
    """Mark the form answered until `expires_ms` (forgotten after: it can
    no longer be posted then); False if it was already. Expired marks go."""
    c = raw_conn(conn)
    c.execute("DELETE FROM qr_used_forms WHERE expires_ms < ?", (at_ms,))
    return c.execute("INSERT OR IGNORE INTO qr_used_forms (form, expires_ms) VALUES (?, ?)",
                     (form, expires_ms)).rowcount == 1


def get_budget(conn: Db, key: str) -> tuple[float, int, int, int] | None:
    """(tokens, updated_ms, refused in a row, blocked_until_ms) of an address key."""
    return raw_conn(conn).execute(
        "SELECT tokens, updated_ms, refused, blocked_until_ms FROM qr_address_budget"
        " WHERE key = ?", (key,)).fetchone()


def put_budget(conn: Db, key: str, tokens: float, updated_ms: int, refused: int,
               blocked_until_ms: int, forget_before_ms: int) -> None:
    """Save an address's budget; drop those untouched since `forget_before_ms`."""
    c = raw_conn(conn)
    c.execute("DELETE FROM qr_address_budget WHERE updated_ms < ? AND blocked_until_ms < ?",
              (forget_before_ms, updated_ms))
    c.execute("INSERT OR REPLACE INTO qr_address_budget (key, tokens, updated_ms, refused,"
              " blocked_until_ms) VALUES (?, ?, ?, ?, ?)",
              (key, tokens, updated_ms, refused, blocked_until_ms))


def topic_levels(conn: Db, site_id: str, from_ms: int, to_ms: int) -> list[tuple[str, int, int]]:
    """(topics as stored, level, scale) of the site's answers in [from_ms, to_ms)."""
    return raw_conn(conn).execute(
        "SELECT topics, level, scale FROM qr_answers WHERE site_id = ? AND created_ms >= ?"
        " AND created_ms < ?", (site_id, from_ms, to_ms)).fetchall()
def topics_between(conn: Db, site_id: str, start_ms: int, end_ms: int) -> list[str]:
    """The topics field of every answer of the site in [start_ms, end_ms)
    that names at least one (comma-separated codes)."""
    return [r[0] for r in raw_conn(conn).execute(
        "SELECT topics FROM qr_answers WHERE site_id = ? AND created_ms >= ? AND created_ms < ?"
        " AND topics != ''", (site_id, start_ms, end_ms))]
