"""Kiosk answers to public consultations (protocol version 2, a batch of
campaign N > 0): stored in the ingest transaction as votes are, dated when
their boot's anchor arrives, and which consultation a site's kiosks take
now. A kiosk seq is stored once: in `votes` (campaign 0) or here."""
import sqlite3
from collections.abc import Sequence
from typing import Any

from sync_server.storage.connection import Db, raw_conn
from sync_server.storage.votes import F_UNDATABLE, count_undatable, set_status

_RUNNING = ("SELECT cs.site_id, c.id, c.kiosk_answers FROM consultations c"
            " JOIN consultation_sites cs ON cs.consultation_id = c.id"
            " WHERE c.state = 'open' AND c.opens_ms <= ? AND ? < c.closes_ms"
            " AND c.kiosk_answers > 0")


def running_by_site(conn: Db, now_ms: int) -> dict[str, dict[str, int]]:
    """{site_id: {"id", "kiosk_answers"}} of the consultation each site's
    kiosks take at now_ms; two overlapping at a site: the lowest id."""
    out: dict[str, dict[str, int]] = {}
    for site, cid, n in raw_conn(conn).execute(_RUNNING + " ORDER BY c.id DESC",
                                               (now_ms, now_ms)):
        out[site] = {"id": cid, "kiosk_answers": n}
    return out


def running_at_site(conn: Db, site_id: str, now_ms: int) -> dict[str, int] | None:
    """The consultation the site's kiosks must take now ({"id",
    "kiosk_answers"}): state open, opens_ms <= now < closes_ms, the site
    listed, answers on the kiosk card; else None."""
    row = raw_conn(conn).execute(_RUNNING + " AND cs.site_id = ? ORDER BY c.id LIMIT 1",
                                 (now_ms, now_ms, site_id)).fetchone()
    return {"id": row[1], "kiosk_answers": row[2]} if row else None


def schedule_mark(conn: Db, now_ms: int) -> tuple:
    """Changes when a consultation is edited, its sites change, or one opens
    or closes at a site: the kiosks' configs are then published again."""
    c = raw_conn(conn)
    edited = c.execute("SELECT max(updated_ms), count(*) FROM consultations").fetchone()
    listed = c.execute("SELECT count(*) FROM consultation_sites").fetchone()[0]
    running = sorted((site, e["id"], e["kiosk_answers"])
                     for site, e in running_by_site(conn, now_ms).items())
    return tuple(edited), listed, tuple(running)


def stored_seqs(c: sqlite3.Connection, device_id: str, lo: int, hi: int) -> set[int]:
    """The kiosk's answer seqs already stored between lo and hi."""
    q = " WHERE device_id = ? AND seq BETWEEN ? AND ?"
    args = (device_id, lo, hi)
    return ({r[0] for r in c.execute("SELECT seq FROM consultation_answers" + q, args)}
            | {r[0] for r in c.execute("SELECT seq FROM kiosk_answers_unknown" + q, args)})


def insert_answers(c: sqlite3.Connection, campaign: int, rows: Sequence[tuple]) -> bool:
    """Store rows (device_id, seq, site_id, boot, t_ms, utc_ms, level,
    scale, flags, received_ms), as votes.insert_votes takes them, as answers
    to consultation `campaign`. An unknown campaign: kept apart and counted
    per kiosk (kiosk_status.unknown_campaign); returns False then."""
    if c.execute("SELECT 1 FROM consultations WHERE id = ?", (campaign,)).fetchone():
        c.executemany(
            "INSERT INTO consultation_answers (consultation_id, site_id, channel, answer,"
            " utc_ms, device_id, seq, boot, t_ms, flags, received_ms)"
            " VALUES (?, ?, 'kiosk', ?, ?, ?, ?, ?, ?, ?, ?)",
            [(campaign, r[2], r[6], r[5], r[0], r[1], r[3], r[4], r[8], r[9]) for r in rows])
        return True
    c.executemany(
        "INSERT INTO kiosk_answers_unknown (device_id, seq, campaign, site_id, boot, t_ms,"
        " utc_ms, answer, scale, flags, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], r[1], campaign, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in rows])
    by_dev: dict[str, int] = {}
    for r in rows:
        by_dev[r[0]] = by_dev.get(r[0], 0) + 1
    for dev, n in by_dev.items():
        set_status(c, dev)
        c.execute("UPDATE kiosk_status SET unknown_campaign = unknown_campaign + ?"
                  " WHERE device_id = ?", (n, dev))
    return False


def date_boot(c: sqlite3.Connection, device_id: str, boot: int, boot_ms: int, utc_ms: int,
              min_utc_ms: int, max_utc_ms: int) -> int:
    """The boot's anchor has just been recorded: date its answers waiting
    for it (those it puts in min_utc_ms..max_utc_ms; the others are flagged
    undatable and counted in the kiosk's health). Returns how many were dated."""
    n = 0
    for table in ("consultation_answers", "kiosk_answers_unknown"):
        n += c.execute(
            "UPDATE %s SET utc_ms = ? + t_ms - ? WHERE device_id = ? AND boot = ?"
            " AND utc_ms IS NULL AND flags & 1 AND ? + t_ms - ? BETWEEN ? AND ?" % table,
            (utc_ms, boot_ms, device_id, boot, utc_ms, boot_ms, min_utc_ms,
             max_utc_ms - 1)).rowcount
        left = c.execute("UPDATE %s SET flags = flags | ? WHERE device_id = ? AND boot = ?"
                         " AND utc_ms IS NULL AND flags & 1 AND NOT flags & ?" % table,
                         (F_UNDATABLE, device_id, boot, F_UNDATABLE)).rowcount
        if left:
            count_undatable(c, device_id, left)
    return n


def of_kiosk(conn: Db, device_id: str) -> list[dict[str, Any]]:
    """The kiosk's stored answers, known campaigns and unknown, by seq."""
    c = raw_conn(conn)
    rows = [dict(zip(("seq", "campaign", "answer", "utc_ms", "flags", "known"), r))
            for r in c.execute(
                "SELECT seq, consultation_id, answer, utc_ms, flags, 1 FROM consultation_answers"
                " WHERE device_id = ? UNION ALL SELECT seq, campaign, answer, utc_ms, flags, 0"
                " FROM kiosk_answers_unknown WHERE device_id = ? ORDER BY seq",
                (device_id, device_id))]
    return rows
