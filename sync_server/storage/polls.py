"""The tables of the agents' voice: internal polls (polls, poll_sites,
poll_responses, poll_texts, poll_devices) and the staff idea box
(staff_ideas, staff_idea_supports). The rules (who may answer, what may be
shown) are `sync_server.polls`'s; here only rows go in and out. Response and
text ids are random so that the storage order says nothing of who answered
first."""
import json
import secrets
from collections.abc import Iterable

from sync_server.storage.connection import Db, raw_conn, row_dicts

POLL_FIELDS = "id, title_fr, title_en, questions, opens_day, closes_day, state, created_ms"


def _random_id() -> int:
    return secrets.randbits(62) + 1


def _poll(row: dict) -> dict:
    row["questions"] = json.loads(row["questions"])
    return row


def insert_poll(conn: Db, title_fr: str, title_en: str, questions: list[dict], opens_day: str,
                closes_day: str, site_ids: list[str], at_ms: int) -> int:
    c = raw_conn(conn)
    cur = c.execute(
        "INSERT INTO polls (title_fr, title_en, questions, opens_day, closes_day, created_ms)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (title_fr, title_en, json.dumps(questions, ensure_ascii=False), opens_day, closes_day,
         at_ms))
    poll_id = int(cur.lastrowid or 0)
    c.executemany("INSERT INTO poll_sites (poll_id, site_id) VALUES (?, ?)",
                  [(poll_id, s) for s in site_ids])
    return poll_id


def get_poll(conn: Db, poll_id: int) -> dict | None:
    rows = row_dicts(raw_conn(conn).execute("SELECT %s FROM polls WHERE id = ?" % POLL_FIELDS,
                                            (poll_id,)))
    if not rows:
        return None
    poll = _poll(rows[0])
    poll["sites"] = poll_site_ids(conn, poll_id)
    return poll


def poll_site_ids(conn: Db, poll_id: int) -> list[str]:
    return [r[0] for r in raw_conn(conn).execute(
        "SELECT site_id FROM poll_sites WHERE poll_id = ? ORDER BY site_id", (poll_id,))]


def list_polls(conn: Db, site_id: str | None = None,
               within: Iterable[str] | None = None) -> list[dict]:
    """Every poll, newest first (those of one site if given), with its sites;
    with `within`, only the polls all of whose sites are among those."""
    sql = "SELECT %s FROM polls" % POLL_FIELDS
    args: tuple = ()
    if site_id:
        sql += " WHERE id IN (SELECT poll_id FROM poll_sites WHERE site_id = ?)"
        args = (site_id,)
    polls = [_poll(r) for r in row_dicts(raw_conn(conn).execute(sql + " ORDER BY id DESC",
                                                                  args))]
    for p in polls:
        p["sites"] = poll_site_ids(conn, p["id"])
    if within is None:
        return polls
    keep = set(within)
    return [p for p in polls if p["sites"] and set(p["sites"]) <= keep]


def set_state(conn: Db, poll_id: int, state: str) -> bool:
    return raw_conn(conn).execute("UPDATE polls SET state = ? WHERE id = ?",
                                  (state, poll_id)).rowcount > 0


def forget_devices(conn: Db, poll_id: int) -> int:
    """Delete the poll's device hashes; return how many there were."""
    return raw_conn(conn).execute("DELETE FROM poll_devices WHERE poll_id = ?",
                                  (poll_id,)).rowcount


def device_count(conn: Db, poll_id: int) -> int:
    return raw_conn(conn).execute("SELECT count(*) FROM poll_devices WHERE poll_id = ?",
                                  (poll_id,)).fetchone()[0]


def use_device(conn: Db, poll_id: int, device: str) -> bool:
    """Mark the device (a hash) as having answered; False if it had."""
    return raw_conn(conn).execute(
        "INSERT OR IGNORE INTO poll_devices (poll_id, device) VALUES (?, ?)",
        (poll_id, device)).rowcount == 1


def device_used(conn: Db, poll_id: int, device: str) -> bool:
    return raw_conn(conn).execute("SELECT 1 FROM poll_devices WHERE poll_id = ? AND device = ?",
                                  (poll_id, device)).fetchone() is not None


def add_response(conn: Db, poll_id: int, site_id: str, day: str,
                 answers: dict[int, int]) -> None:
    raw_conn(conn).execute(
        "INSERT INTO poll_responses (id, poll_id, site_id, day, answers) VALUES (?, ?, ?, ?, ?)",
        (_random_id(), poll_id, site_id, day,
         json.dumps({str(k): v for k, v in sorted(answers.items())})))


def add_text(conn: Db, poll_id: int, site_id: str, question: int, text: str, lang: str) -> None:
    raw_conn(conn).execute(
        "INSERT INTO poll_texts (id, poll_id, site_id, question, text, lang) VALUES (?,?,?,?,?,?)",
        (_random_id(), poll_id, site_id, question, text, lang))


def responses(conn: Db, poll_ids: list[int]) -> list[tuple[int, str, dict[int, int]]]:
    """(poll_id, site_id, {question: value}) of every response to the polls."""
    if not poll_ids:
        return []
    rows = raw_conn(conn).execute(
        "SELECT poll_id, site_id, answers FROM poll_responses WHERE poll_id IN (%s)"
        % ",".join("?" * len(poll_ids)), tuple(poll_ids)).fetchall()
    return [(p, s, {int(k): v for k, v in json.loads(a).items()}) for p, s, a in rows]


def texts(conn: Db, poll_id: int, state: str | None = None) -> list[dict]:
    """The poll's free answers {id, site_id, question, text, lang, state},
    in a fixed order that is not the order they came in."""
    sql = "SELECT id, site_id, question, text, lang, state FROM poll_texts WHERE poll_id = ?"
    args: tuple = (poll_id,)
    if state:
        sql += " AND state = ?"
        args += (state,)
    return row_dicts(raw_conn(conn).execute(sql + " ORDER BY id", args))


def moderate_text(conn: Db, text_id: int, state: str) -> bool:
    return raw_conn(conn).execute("UPDATE poll_texts SET state = ? WHERE id = ?",
                                  (state, text_id)).rowcount > 0


def closed_since(conn: Db, site_id: str, from_day: str, to_day: str) -> list[dict]:
    """The closed polls of a site whose last day falls in the period."""
    return [_poll(r) for r in row_dicts(raw_conn(conn).execute(
        "SELECT %s FROM polls WHERE state = 'closed' AND closes_day BETWEEN ? AND ?"
        " AND id IN (SELECT poll_id FROM poll_sites WHERE site_id = ?) ORDER BY id"
        % POLL_FIELDS, (from_day, to_day, site_id)))]


# --- ideas ------------------------------------------------------------------

IDEA_FIELDS = "id, site_id, text, lang, day, moderation, status, reason, answered_day, supports"


def add_idea(conn: Db, site_id: str, text: str, lang: str, day: str) -> int:
    cur = raw_conn(conn).execute(
        "INSERT INTO staff_ideas (site_id, text, lang, day) VALUES (?, ?, ?, ?)",
        (site_id, text, lang, day))
    return int(cur.lastrowid or 0)


def get_idea(conn: Db, idea_id: int) -> dict | None:
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT %s FROM staff_ideas WHERE id = ?" % IDEA_FIELDS, (idea_id,)))
    return rows[0] if rows else None


def ideas(conn: Db, site_id: str | None = None, moderation: str | None = None,
          answered: bool = False, limit: int = 200,
          site_ids: Iterable[str] | None = None) -> list[dict]:
    """Ideas, newest first: of one site (or of `site_ids`), in one
    moderation state, only those a manager has answered, as asked."""
    where: list[str] = []
    args: list = []
    if site_id:
        where.append("site_id = ?")
        args.append(site_id)
    if site_ids is not None:
        where.append("site_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(sorted(site_ids)))
    if moderation:
        where.append("moderation = ?")
        args.append(moderation)
    if answered:
        where.append("status != 'new'")
    sql = "SELECT %s FROM staff_ideas" % IDEA_FIELDS
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = "answered_day DESC, id DESC" if answered else "id DESC"
    return row_dicts(raw_conn(conn).execute(sql + " ORDER BY %s LIMIT ?" % order,
                                            (*args, int(limit))))


def moderate_idea(conn: Db, idea_id: int, moderation: str) -> bool:
    return raw_conn(conn).execute("UPDATE staff_ideas SET moderation = ? WHERE id = ?",
                                  (moderation, idea_id)).rowcount > 0


def answer_idea(conn: Db, idea_id: int, status: str, reason: str, day: str) -> bool:
    return raw_conn(conn).execute(
        "UPDATE staff_ideas SET status = ?, reason = ?, answered_day = ? WHERE id = ?",
        (status, reason, day, idea_id)).rowcount > 0


def support_idea(conn: Db, idea_id: int, device: str) -> bool:
    """Count one support from the device (a hash); False if it had given one."""
    c = raw_conn(conn)
    if not c.execute("INSERT OR IGNORE INTO staff_idea_supports (idea_id, device) VALUES (?, ?)",
                     (idea_id, device)).rowcount:
        return False
    c.execute("UPDATE staff_ideas SET supports = supports + 1 WHERE id = ?", (idea_id,))
    return True


def supported(conn: Db, devices: dict[int, str]) -> set[int]:
    """Which ideas the device has supported; devices: {idea_id: its hash for that idea}."""
    c = raw_conn(conn)
    return {i for i, device in devices.items() if c.execute(
        "SELECT 1 FROM staff_idea_supports WHERE idea_id = ? AND device = ?",
        (i, device)).fetchone()}
