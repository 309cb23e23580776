"""The QR feedback tables: tokens (qr_tokens), answers (qr_answers) and the
per-address rate counters (qr_rate)."""
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


def count_in_window(conn: Db, key: str, window_ms: int) -> int:
    """Count one more use of `key` in the hour starting at `window_ms` (older
    windows are dropped); return the count so far."""
    c = raw_conn(conn)
    c.execute("DELETE FROM qr_rate WHERE window_ms < ?", (window_ms,))
    c.execute("INSERT INTO qr_rate (key, window_ms, count) VALUES (?, ?, 1) "
              "ON CONFLICT (key, window_ms) DO UPDATE SET count = count + 1", (key, window_ms))
    return c.execute("SELECT count FROM qr_rate WHERE key = ? AND window_ms = ?",
                     (key, window_ms)).fetchone()[0]
