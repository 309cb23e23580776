"""The alert tables: rules per scope, alerts (one live per site, kiosk and
kind) and their deliveries; plus the cheap reads the evaluation needs
(kiosk_status, the latest vote of a kiosk, a site's counted votes over a
short window through the votes_site_time index)."""
import json
from collections.abc import Iterable
from typing import Any

from sync_server.storage.connection import Db, now_ms, raw_conn, row_dicts, transaction
from sync_server.storage.rollup import FILTER_MASK, bump

STATES = ("open", "acknowledged", "resolved")
LIVE = ("open", "acknowledged")


# ------------------------------------------------------------------ rules

def set_rule(conn: Db, scope: str, kind: str, params: dict[str, Any]) -> None:
    """Store the values of `params` for a rule kind at a scope ('*',
    'org:ID', 'site:ID'), merged over what that scope already set."""
    c = raw_conn(conn)
    with transaction(c):
        row = c.execute("SELECT params FROM alert_rules WHERE scope = ? AND kind = ?",
                        (scope, kind)).fetchone()
        merged = dict(json.loads(row[0]) if row else {}, **params)
        c.execute("INSERT INTO alert_rules (scope, kind, params, updated_ms) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (scope, kind) DO UPDATE SET params = excluded.params,"
                  " updated_ms = excluded.updated_ms",
                  (scope, kind, json.dumps(merged, sort_keys=True), now_ms()))


def clear_rule(conn: Db, scope: str, kind: str) -> bool:
    """Forget what a scope set for a kind; False if it set nothing."""
    c = raw_conn(conn)
    with transaction(c):
        return c.execute("DELETE FROM alert_rules WHERE scope = ? AND kind = ?",
                         (scope, kind)).rowcount > 0


def list_rules(conn: Db) -> list[dict]:
    """Every stored rule: scope, kind, params (parsed)."""
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT scope, kind, params FROM alert_rules ORDER BY scope, kind"))
    for r in rows:
        r["params"] = json.loads(r["params"])
    return rows


# ------------------------------------------------------------------ alerts

def live_alerts(conn: Db, kind: str | None = None) -> dict[tuple[str, str, str], dict]:
    """{(site_id, device_id, kind): alert} of every alert not resolved (of
    one kind if given)."""
    sql = ("SELECT id, site_id, device_id, kind, state, opened_ms FROM alerts"
           " WHERE state != 'resolved'")
    rows = row_dicts(raw_conn(conn).execute(sql + " AND kind = ?", (kind,)) if kind
                     else raw_conn(conn).execute(sql))
    return {(r["site_id"], r["device_id"], r["kind"]): r for r in rows}


def apply_changes(conn: Db, opened: Iterable[tuple[str, str, str, dict]],
                  seen: Iterable[tuple[int, dict]], resolved: Iterable[int],
                  at_ms: int) -> list[int]:
    """In one transaction: open new alerts (site, device, kind, detail), note
    the figures of those still true, resolve the others. Returns the new
    alerts' ids. The sites concerned are bumped so live screens redraw."""
    c = raw_conn(conn)
    ids = []
    sites = set()
    with transaction(c):
        for site, dev, kind, detail in opened:
            cur = c.execute(
                "INSERT INTO alerts (site_id, device_id, kind, state, detail, opened_ms, seen_ms)"
                " VALUES (?, ?, ?, 'open', ?, ?, ?)"
                " ON CONFLICT (site_id, device_id, kind) WHERE state != 'resolved'"
                " DO NOTHING", (site, dev, kind, json.dumps(detail), at_ms, at_ms))
            if cur.rowcount and cur.lastrowid is not None:
                ids.append(cur.lastrowid)
                sites.add(site)
        c.executemany("UPDATE alerts SET detail = ?, seen_ms = ? WHERE id = ?",
                      [(json.dumps(d), at_ms, i) for i, d in seen])
        for i in resolved:
            row = c.execute("UPDATE alerts SET state = 'resolved', resolved_ms = ?"
                            " WHERE id = ? AND state != 'resolved' RETURNING site_id",
                            (at_ms, i)).fetchone()
            if row:
                sites.add(row[0])
        if sites:
            bump(c, sites)
    return ids


def acknowledge(conn: Db, alert_id: int, who: str) -> bool:
    """Mark an open alert acknowledged; False if it is not open."""
    c = raw_conn(conn)
    with transaction(c):
        row = c.execute("UPDATE alerts SET state = 'acknowledged', acknowledged_ms = ?,"
                        " acknowledged_by = ? WHERE id = ? AND state = 'open'"
                        " RETURNING site_id", (now_ms(), who, alert_id)).fetchone()
        if row:
            bump(c, [row[0]])
    return row is not None


def _parsed(rows: list[dict]) -> list[dict]:
    for r in rows:
        r["detail"] = json.loads(r["detail"])
    return rows


ALERT_COLUMNS = ("a.id, a.site_id, s.name AS site_name, s.timezone, s.org_id, a.device_id,"
                 " a.kind, a.state, a.detail, a.opened_ms, a.seen_ms, a.acknowledged_ms,"
                 " a.acknowledged_by, a.resolved_ms")


def get_alert(conn: Db, alert_id: int) -> dict | None:
    rows = _parsed(row_dicts(raw_conn(conn).execute(
        "SELECT %s FROM alerts a LEFT JOIN sites s ON s.id = a.site_id WHERE a.id = ?"
        % ALERT_COLUMNS, (alert_id,))))
    return rows[0] if rows else None


def list_alerts(conn: Db, live_only: bool = False, site_id: str | None = None,
                limit: int = 200, site_ids: Iterable[str] | None = None) -> list[dict]:
    """Alerts, live ones first then newest first; `live_only`: open and
    acknowledged only; `site_id`: that site's only; `site_ids`: those
    sites' only."""
    where: list[str] = []
    args: list = []
    if live_only:
        where.append("a.state != 'resolved'")
    if site_id is not None:
        where.append("a.site_id = ?")
        args.append(site_id)
    if site_ids is not None:
        where.append("a.site_id IN (SELECT value FROM json_each(?))")
        args.append(json.dumps(sorted(site_ids)))
    sql = ("SELECT %s FROM alerts a LEFT JOIN sites s ON s.id = a.site_id %s"
           " ORDER BY a.state = 'resolved', a.opened_ms DESC, a.id DESC LIMIT ?"
           % (ALERT_COLUMNS, ("WHERE " + " AND ".join(where)) if where else ""))
    return _parsed(row_dicts(raw_conn(conn).execute(sql, (*args, limit))))


# ------------------------------------------------------------------ deliveries

def enqueue(conn: Db, alert_id: int | None, event: str,
            targets: Iterable[tuple[str, str]], not_before_ms: int) -> int:
    """Queue one delivery per (channel, target); returns how many."""
    rows = [(alert_id, event, ch, target, not_before_ms, now_ms()) for ch, target in targets]
    c = raw_conn(conn)
    with transaction(c):
        c.executemany("INSERT INTO alert_deliveries (alert_id, event, channel, target, next_ms,"
                      " created_ms) VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def due_deliveries(conn: Db, at_ms: int, limit: int = 100) -> list[dict]:
    return row_dicts(raw_conn(conn).execute(
        "SELECT id, alert_id, event, channel, target, attempts FROM alert_deliveries"
        " WHERE state = 'pending' AND next_ms <= ? ORDER BY next_ms, id LIMIT ?",
        (at_ms, limit)))


def next_due_ms(conn: Db) -> int | None:
    row = raw_conn(conn).execute(
        "SELECT min(next_ms) FROM alert_deliveries WHERE state = 'pending'").fetchone()
    return row[0]


def delivery_done(conn: Db, delivery_id: int, state: str, error: str = "",
                  retry_at_ms: int | None = None) -> None:
    """Record an attempt: state 'sent', 'failed', 'skipped', or 'pending'
    again with `retry_at_ms`."""
    c = raw_conn(conn)
    with transaction(c):
        c.execute("UPDATE alert_deliveries SET state = ?, attempts = attempts + ?,"
                  " last_error = ?, next_ms = coalesce(?, next_ms),"
                  " sent_ms = CASE WHEN ? = 'sent' THEN ? END WHERE id = ?",
                  (state, 0 if state == "skipped" else 1, error[:500], retry_at_ms, state,
                   now_ms(), delivery_id))


def opening_sent(conn: Db, alert_id: int, channel: str, target: str) -> bool:
    """Whether the opening of an alert reached this target."""
    return raw_conn(conn).execute(
        "SELECT 1 FROM alert_deliveries WHERE alert_id = ? AND event = 'opened'"
        " AND channel = ? AND target = ? AND state = 'sent'",
        (alert_id, channel, target)).fetchone() is not None


def list_deliveries(conn: Db, alert_id: int | None = None) -> list[dict]:
    sql = ("SELECT id, alert_id, event, channel, target, state, attempts, last_error, sent_ms"
           " FROM alert_deliveries")
    args: tuple = ()
    if alert_id is not None:
        sql += " WHERE alert_id = ?"
        args = (alert_id,)
    return row_dicts(raw_conn(conn).execute(sql + " ORDER BY id", args))


# ------------------------------------------------------------------ what rules read

def sites(conn: Db, only: Iterable[str] | None = None) -> list[dict]:
    """Sites in service (of `only`, if given): id, org_id, name, timezone,
    hours (parsed), telemetry_s."""
    sql = ("SELECT id, org_id, name, timezone, hours, telemetry_s FROM sites"
           " WHERE archived_ms IS NULL")
    if only is None:
        cur = raw_conn(conn).execute(sql + " ORDER BY id")
    else:
        ids = sorted(only)
        cur = raw_conn(conn).execute(
            sql + " AND id IN (SELECT value FROM json_each(?)) ORDER BY id", (json.dumps(ids),))
    rows = row_dicts(cur)
    for r in rows:
        r["hours"] = json.loads(r["hours"] or "{}")
    return rows


def kiosks(conn: Db) -> list[dict]:
    """Trusted kiosks with their last status and telemetry."""
    return row_dicts(raw_conn(conn).execute(
        "SELECT k.id, k.site_id, k.created_ms, s.state, s.last_seen_ms, s.battery_pct,"
        " s.journal, s.dropped, s.clock, s.uptime_s"
        " FROM kiosks k LEFT JOIN kiosk_status s ON s.device_id = k.id"
        " WHERE k.revoked_ms IS NULL ORDER BY k.id"))


def last_press_ms(conn: Db, device_id: str) -> int | None:
    """When the kiosk's latest press was made (received, if undated): a
    satisfaction vote or an answer to a consultation."""
    latest = ("SELECT * FROM (SELECT seq, coalesce(utc_ms, received_ms) FROM %s"
              " WHERE device_id = ? ORDER BY seq DESC LIMIT 1)")
    row = raw_conn(conn).execute(
        "SELECT * FROM (%s UNION ALL %s) ORDER BY 1 DESC LIMIT 1"
        % (latest % "votes", latest % "consultation_answers"),
        (device_id, device_id)).fetchone()
    return row[1] if row else None


def active_sites(conn: Db, since_ms: int) -> set[str]:
    """Sites whose figures changed since then."""
    return {r[0] for r in raw_conn(conn).execute(
        "SELECT site_id FROM rollup_changes WHERE changed_ms >= ?", (since_ms,))}


def window_counts(conn: Db, site_id: str, from_ms: int, to_ms: int) -> list[tuple[int, int, int]]:
    """(scale, level, n) of a site's counted kiosk votes pressed in [from, to]."""
    return raw_conn(conn).execute(
        "SELECT scale, level, count(*) FROM votes WHERE site_id = ? AND utc_ms BETWEEN ? AND ?"
        " AND flags & ? = 0 GROUP BY scale, level",
        (site_id, from_ms, to_ms, FILTER_MASK)).fetchall()
