"""The tables MQTT ingest writes: votes, anchors (a boot's clock), kiosk
status, telemetry and refused messages. Functions take the ingest's sqlite3
connection and run inside its transaction."""
import json
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

_INSERT_VOTES = ("INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
                 " flags, received_ms) VALUES ")
_VOTE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 64  # at most 64 distinct statements, well within sqlite3's cache
_insert_sql: dict[int, str] = {}
DATED_KEYS = ("site_id", "utc_ms", "level", "scale", "flags", "device_id", "seq")
# Set by the server on a stored vote no time in 2000..2100 can be given to:
# never counted, never dated later. Never on the wire (bits 3..7 are 0 there).
F_UNDATABLE = 0x80


def insert_votes(c: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Insert rows (device_id, seq, site_id, boot, t_ms, utc_ms, level,
    scale, flags, received_ms) with multi-row VALUES statements: one step
    per up to 64 rows, not one per row as executemany does. That is faster
    on its own and lets the GIL go (for the event loop) once per statement,
    not once per row."""
    for i in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[i:i + _ROWS_PER_INSERT]
        sql = _insert_sql.get(len(chunk))
        if sql is None:
            sql = _insert_sql[len(chunk)] = _INSERT_VOTES + ", ".join([_VOTE_ROW] * len(chunk))
        c.execute(sql, list(chain.from_iterable(chunk)))


def stored_seqs(c: sqlite3.Connection, device_id: str, lo: int, hi: int) -> set[int]:
    """The sequence numbers of the kiosk already stored between lo and hi."""
    return {r[0] for r in c.execute(
        "SELECT seq FROM votes WHERE device_id = ? AND seq BETWEEN ? AND ?",
        (device_id, lo, hi))}


def anchor_of(c: sqlite3.Connection, device_id: str, boot: int) -> tuple[int, int] | None:
    """(boot_ms, utc_ms) of the boot's clock anchor, else None."""
    return c.execute("SELECT boot_ms, utc_ms FROM anchors WHERE device_id = ? AND boot = ?",
                     (device_id, boot)).fetchone()


def add_anchor(c: sqlite3.Connection, device_id: str, boot: int, boot_ms: int, utc_ms: int,
               min_utc_ms: int, max_utc_ms: int) -> list[dict] | None:
    """Record the boot's first anchor and date its undated votes with it
    (those it puts in min_utc_ms..max_utc_ms; the others are counted
    undatable in the kiosk's health); return the votes dated, as
    dicts of DATED_KEYS, or None when the boot had an anchor already."""
    if not c.execute("INSERT OR IGNORE INTO anchors (device_id, boot, boot_ms, utc_ms)"
                     " VALUES (?, ?, ?, ?)", (device_id, boot, boot_ms, utc_ms)).rowcount:
        return None
    rows = c.execute(
        "UPDATE votes SET utc_ms = ? + t_ms - ? WHERE device_id = ? AND boot = ?"
        " AND utc_ms IS NULL AND flags & 1 AND ? + t_ms - ? BETWEEN ? AND ?"
        " RETURNING site_id, utc_ms, level, scale, flags, device_id, seq",
        (utc_ms, boot_ms, device_id, boot, utc_ms, boot_ms, min_utc_ms,
         max_utc_ms - 1)).fetchall()
    left = c.execute("UPDATE votes SET flags = flags | ? WHERE device_id = ? AND boot = ?"
                     " AND utc_ms IS NULL AND flags & 1", (F_UNDATABLE, device_id, boot)).rowcount
    if left:
        count_undatable(c, device_id, left)
    return [dict(zip(DATED_KEYS, r)) for r in rows]


def count_undatable(c: sqlite3.Connection, device_id: str, n: int) -> None:
    """Count votes stored that no time can be given to (never counted)."""
    set_status(c, device_id)
    c.execute("UPDATE kiosk_status SET undatable = undatable + ? WHERE device_id = ?",
              (n, device_id))


def mark_acked(c: sqlite3.Connection, acked: dict[str, int], at_ms: int) -> None:
    """Kiosks seen at `at_ms` with their highest acked seq."""
    c.executemany(
        "INSERT INTO kiosk_status (device_id, last_seen_ms, acked_seq) VALUES (?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
        " acked_seq = max(coalesce(acked_seq, 0), excluded.acked_seq)",
        [(dev, at_ms, hi) for dev, hi in acked.items()])


def set_status(c: sqlite3.Connection, device_id: str, **fields: Any) -> None:
    """Set kiosk_status columns (names from the code, never from input)."""
    c.execute("INSERT OR IGNORE INTO kiosk_status (device_id) VALUES (?)", (device_id,))
    if not fields:
        return
    sets = ", ".join("%s = ?" % k for k in fields)
    c.execute("UPDATE kiosk_status SET %s WHERE device_id = ?" % sets,
              (*fields.values(), device_id))


def add_telemetry(c: sqlite3.Connection, device_id: str, at_ms: int, message: dict) -> None:
    c.execute("INSERT INTO telemetry (device_id, received_ms, payload) VALUES (?, ?, ?)",
              (device_id, at_ms, json.dumps(message)))


def add_reject(c: sqlite3.Connection, device_id: str | None, topic: str, at_ms: int, reason: str,
               size: int) -> None:
    """Record a refused message; a registered kiosk's status counts it."""
    c.execute("INSERT INTO rejects (device_id, topic, received_ms, reason, size)"
              " VALUES (?, ?, ?, ?, ?)", (device_id, topic[:200], at_ms, reason, size))
    if device_id and c.execute("SELECT 1 FROM kiosks WHERE id = ?", (device_id,)).fetchone():
        set_status(c, device_id, last_reject=reason)
        c.execute("UPDATE kiosk_status SET rejected = rejected + 1 WHERE device_id = ?",
                  (device_id,))


def prune(c: sqlite3.Connection, cutoff_ms: int) -> int:
    """Delete telemetry and refused-message records older than the cutoff."""
    n = c.execute("DELETE FROM telemetry WHERE received_ms < ?", (cutoff_ms,)).rowcount
    return n + c.execute("DELETE FROM rejects WHERE received_ms < ?", (cutoff_ms,)).rowcount
