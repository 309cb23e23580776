"""The public consultations' tables: consultations, consultation_sites,
consultation_answers (phone rows here; kiosk rows come through ingest) and
consultation_ideas. What is valid is `sync_server.consultations`' business:
these functions store what they are given."""
import json
from collections.abc import Iterable
from typing import Any

from sync_server.storage.connection import Db, raw_conn, row_dicts

MIN_ID, MAX_ID = 1, 65535  # the campaign number on the wire is 16 bits, 0 meaning none
FIELDS = ("title_fr", "title_en", "question_fr", "question_en", "answers", "kiosk_answers",
          "opens_ms", "closes_ms", "ideas", "live_results")


class NoFreeId(ValueError):
    """Every campaign number is taken."""


def _shape(rows: list[dict]) -> list[dict]:
    for r in rows:
        r["answers"] = json.loads(r["answers"])
        r["ideas"] = bool(r["ideas"])
        r["live_results"] = bool(r["live_results"])
    return rows


def next_id(conn: Db) -> int:
    """The lowest free campaign number (1..65535)."""
    row = raw_conn(conn).execute(
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM consultations WHERE id = 1) THEN 1 ELSE "
        "(SELECT min(c.id) + 1 FROM consultations c WHERE NOT EXISTS "
        "(SELECT 1 FROM consultations d WHERE d.id = c.id + 1)) END").fetchone()
    if row[0] > MAX_ID:
        raise NoFreeId("every consultation number from 1 to 65535 is taken")
    return row[0]


def insert(conn: Db, cid: int, token: str, fields: dict[str, Any], at_ms: int) -> None:
    """A new consultation in draft; `fields` holds every name of FIELDS
    (answers as a list)."""
    if not MIN_ID <= cid <= MAX_ID:
        raise ValueError("a consultation number is between 1 and 65535")
    values = [json.dumps(fields[k], ensure_ascii=False) if k == "answers" else fields[k]
              for k in FIELDS]
    raw_conn(conn).execute(
        "INSERT INTO consultations (id, token, %s, state, created_ms, updated_ms) "
        "VALUES (?, ?, %s, 'draft', ?, ?)" % (", ".join(FIELDS), ", ".join("?" * len(FIELDS))),
        (cid, token, *values, at_ms, at_ms))


def update(conn: Db, cid: int, changes: dict[str, Any], at_ms: int) -> None:
    """Change some FIELDS of a consultation (bumps updated_ms)."""
    changes = {k: (json.dumps(v, ensure_ascii=False) if k == "answers" else v)
               for k, v in changes.items() if k in FIELDS}
    sets = "".join("%s = ?, " % k for k in changes)
    raw_conn(conn).execute("UPDATE consultations SET %supdated_ms = ? WHERE id = ?" % sets,
                           (*changes.values(), at_ms, cid))


def set_state(conn: Db, cid: int, state: str, at_ms: int) -> None:
    raw_conn(conn).execute("UPDATE consultations SET state = ?, updated_ms = ? WHERE id = ?",
                           (state, at_ms, cid))


def get(conn: Db, cid: int) -> dict | None:
    rows = _shape(row_dicts(raw_conn(conn).execute(
        "SELECT * FROM consultations WHERE id = ?", (cid,))))
    return rows[0] if rows else None


def by_token(conn: Db, token: str) -> dict | None:
    rows = _shape(row_dicts(raw_conn(conn).execute(
        "SELECT * FROM consultations WHERE token = ?", (token,))))
    return rows[0] if rows else None


def list_all(conn: Db, within: Iterable[str] | None = None) -> list[dict]:
    """Every consultation, newest first; with `within`, only those that
    have sites, all among those."""
    rows = _shape(row_dicts(raw_conn(conn).execute(
        "SELECT * FROM consultations ORDER BY opens_ms DESC, id DESC")))
    if within is None:
        return rows
    keep = set(within)
    sites: dict[int, set[str]] = {}
    for cid, site_id in raw_conn(conn).execute(
            "SELECT consultation_id, site_id FROM consultation_sites"):
        sites.setdefault(cid, set()).add(site_id)
    return [c for c in rows if sites.get(c["id"]) and sites[c["id"]] <= keep]


def set_sites(conn: Db, cid: int, site_ids: list[str]) -> None:
    c = raw_conn(conn)
    c.execute("DELETE FROM consultation_sites WHERE consultation_id = ?", (cid,))
    c.executemany("INSERT INTO consultation_sites (consultation_id, site_id) VALUES (?, ?)",
                  [(cid, s) for s in site_ids])


def sites_of(conn: Db, cid: int) -> list[dict]:
    """The consultation's sites as {id, name, timezone}, by name."""
    return row_dicts(raw_conn(conn).execute(
        "SELECT s.id, s.name, s.timezone FROM consultation_sites cs JOIN sites s "
        "ON s.id = cs.site_id WHERE cs.consultation_id = ? ORDER BY s.name, s.id", (cid,)))


def open_at_site(conn: Db, site_id: str, at_ms: int) -> list[dict]:
    """Consultations open at the site at `at_ms`, the earliest opened first."""
    return _shape(row_dicts(raw_conn(conn).execute(
        "SELECT c.* FROM consultations c JOIN consultation_sites cs ON cs.consultation_id = c.id "
        "WHERE cs.site_id = ? AND c.state = 'open' AND c.opens_ms <= ? AND ? < c.closes_ms "
        "ORDER BY c.opens_ms, c.id", (site_id, at_ms, at_ms))))


# ---------------------------------------------------------------- answers


def add_phone_answer(conn: Db, cid: int, site_id: str, answer: int, at_ms: int) -> None:
    raw_conn(conn).execute(
        "INSERT INTO consultation_answers (consultation_id, site_id, channel, answer, utc_ms, "
        "received_ms) VALUES (?, ?, 'phone', ?, ?, ?)", (cid, site_id, answer, at_ms, at_ms))


def answer_counts(conn: Db, cid: int) -> list[tuple[str, str, int, bool, int]]:
    """(site_id, channel, answer, clean, n) over the dated answers; clean
    is False for flagged rows (bursts, lockout, undatable), which are not
    counted."""
    return [(r[0], r[1], r[2], bool(r[3]), r[4]) for r in raw_conn(conn).execute(
        "SELECT site_id, channel, answer, flags = 0, count(*) FROM consultation_answers "
        "WHERE consultation_id = ? AND utc_ms IS NOT NULL GROUP BY 1, 2, 3, 4", (cid,))]


def undated_count(conn: Db, cid: int) -> int:
    """Kiosk answers still waiting for their boot's time anchor."""
    return raw_conn(conn).execute(
        "SELECT count(*) FROM consultation_answers WHERE consultation_id = ? "
        "AND utc_ms IS NULL", (cid,)).fetchone()[0]


def hourly_counts(conn: Db, cid: int) -> list[tuple[str, str, int, int]]:
    """(site_id, channel, UTC hour number, n) of the counted answers (dated,
    unflagged): the caller turns hours into the sites' local days."""
    return [tuple(r) for r in raw_conn(conn).execute(
        "SELECT site_id, channel, utc_ms / 3600000, count(*) FROM consultation_answers "
        "WHERE consultation_id = ? AND utc_ms IS NOT NULL AND flags = 0 GROUP BY 1, 2, 3",
        (cid,))]


def answer_total(conn: Db, cid: int) -> int:
    """Every stored answer, dated or not, flagged or not."""
    return raw_conn(conn).execute("SELECT count(*) FROM consultation_answers "
                                  "WHERE consultation_id = ?", (cid,)).fetchone()[0]


# ---------------------------------------------------------------- ideas


def add_idea(conn: Db, cid: int, site_id: str | None, text: str, lang: str, at_ms: int) -> int:
    return int(raw_conn(conn).execute(
        "INSERT INTO consultation_ideas (consultation_id, site_id, text, lang, created_ms) "
        "VALUES (?, ?, ?, ?, ?)", (cid, site_id, text, lang, at_ms)).lastrowid or 0)


def ideas(conn: Db, cid: int, state: str | None = None) -> list[dict]:
    """The consultation's ideas (of one state if given): approved ones most
    supported first, others oldest first; texts as stored (unmasked)."""
    order = "supports DESC, id" if state == "approved" else "id"
    sql = "SELECT * FROM consultation_ideas WHERE consultation_id = ?"
    args: tuple = (cid,)
    if state:
        sql += " AND state = ?"
        args = (cid, state)
    return row_dicts(raw_conn(conn).execute(sql + " ORDER BY " + order, args))


def get_idea(conn: Db, idea_id: int) -> dict | None:
    rows = row_dicts(raw_conn(conn).execute("SELECT * FROM consultation_ideas WHERE id = ?",
                                            (idea_id,)))
    return rows[0] if rows else None


def moderate(conn: Db, idea_id: int, state: str, reason: str, at_ms: int) -> None:
    raw_conn(conn).execute(
        "UPDATE consultation_ideas SET state = ?, reason = ?, moderated_ms = ? WHERE id = ?",
        (state, reason, at_ms, idea_id))


def add_support(conn: Db, idea_id: int) -> None:
    raw_conn(conn).execute("UPDATE consultation_ideas SET supports = supports + 1 WHERE id = ?",
                           (idea_id,))


def pending_counts(conn: Db) -> dict[int, int]:
    """consultation id -> ideas waiting for moderation."""
    return dict(raw_conn(conn).execute(
        "SELECT consultation_id, count(*) FROM consultation_ideas WHERE state = 'pending' "
        "GROUP BY 1").fetchall())


def site_turnout(conn: Db, cid: int, site_id: str, since_ms: int = 0) -> dict[str, int]:
    """Counted answers (dated, unflagged) at a site since `since_ms`:
    {kiosk, phone, all}."""
    out = {"kiosk": 0, "phone": 0}
    out.update(dict(raw_conn(conn).execute(
        "SELECT channel, count(*) FROM consultation_answers WHERE consultation_id = ? "
        "AND site_id = ? AND utc_ms >= ? AND flags = 0 GROUP BY 1",
        (cid, site_id, since_ms)).fetchall()))
    out["all"] = out["kiosk"] + out["phone"]
    return out
