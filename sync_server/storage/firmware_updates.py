"""Firmware updates over the air: signed releases, rollouts to a cohort of
kiosks, and each kiosk's last reported update state."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sync_server.storage.connection import Db, now_ms, raw_conn, row_dicts

FAILED_STATES = ("failed", "rolled_back", "refused")


def add_release(conn: Db, rid: str, fw: str, manifest: bytes, sig: bytes, key: bytes,
                image: bytes) -> bool:
    """Store a release; False when it is there already."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO fw_releases (id, fw, manifest, sig, key, image, added_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", (rid, fw, manifest, sig, key, image, now_ms()))
    return cur.rowcount == 1


def get_release(conn: Db, rid: str) -> dict | None:
    rows = row_dicts(conn.execute(
        "SELECT id, fw, manifest, sig, key, length(image) AS size, added_ms "
        "FROM fw_releases WHERE id = ?", (rid,)))
    return rows[0] if rows else None


def release_image(conn: Db, rid: str) -> bytes | None:
    row = conn.execute("SELECT image FROM fw_releases WHERE id = ?", (rid,)).fetchone()
    return bytes(row[0]) if row else None


def start_rollout(conn: Db, rid: str, devices: list[str], cohort: str, max_failed: float,
                  boots: int, trial_s: int) -> int:
    cur = conn.execute(
        "INSERT INTO fw_rollouts (release_id, cohort, max_failed, boots, trial_s, state, "
        "created_ms) VALUES (?, ?, ?, ?, ?, 'active', ?)",
        (rid, cohort, max_failed, boots, trial_s, now_ms()))
    rollout = int(cur.lastrowid or 0)
    raw_conn(conn).executemany(
        "INSERT INTO fw_rollout_kiosks (rollout_id, device_id) VALUES (?, ?)",
        [(rollout, d) for d in devices])
    return rollout


def stop_rollout(conn: Db, rollout: int, reason: str) -> bool:
    cur = conn.execute("UPDATE fw_rollouts SET state = 'stopped', reason = ?, stopped_ms = ? "
                       "WHERE id = ? AND state = 'active'", (reason, now_ms(), rollout))
    return cur.rowcount == 1


def offers(conn: Db) -> dict[str, tuple[str, int, int]]:
    """device -> (release id, boots, trial_s) of the latest active rollout
    that holds it."""
    out: dict[str, tuple[str, int, int]] = {}
    for dev, rid, boots, trial_s in conn.execute(
            "SELECT k.device_id, r.release_id, r.boots, r.trial_s FROM fw_rollouts r "
            "JOIN fw_rollout_kiosks k ON k.rollout_id = r.id JOIN kiosks ks ON ks.id = "
            "k.device_id WHERE r.state = 'active' AND ks.revoked_ms IS NULL ORDER BY r.id"):
        out[dev] = (rid, boots, trial_s)
    return out


def record_update(conn: Db, dev: str, m: dict[str, Any]) -> list[tuple[int, str]]:
    """Keep a kiosk's update report; stop every active rollout holding it
    whose failed share has passed its threshold. Returns (rollout, reason)
    of the rollouts stopped."""
    conn.execute(
        "INSERT INTO fw_kiosk_updates (device_id, fw, state, release_id, got, size, error, "
        "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
        "fw = excluded.fw, state = excluded.state, release_id = excluded.release_id, "
        "got = excluded.got, size = excluded.size, error = excluded.error, "
        "updated_ms = excluded.updated_ms",
        (dev, m["fw"], m["state"], m["id"], m["got"], m["size"], m["error"], now_ms()))
    stopped: list[tuple[int, str]] = []
    if m["state"] not in FAILED_STATES:
        return stopped
    for r in rollouts(conn, active_only=True, device=dev):
        share = r["failed"] / r["kiosks"] if r["kiosks"] else 0.0
        if share > r["max_failed"]:
            reason = "%d of %d kiosks failed (%.0f%% > %.0f%%)" % (
                r["failed"], r["kiosks"], share * 100, r["max_failed"] * 100)
            if stop_rollout(conn, r["id"], reason):
                stopped.append((r["id"], reason))
    return stopped


def may_fetch(conn: Db, dev: str, rid: str) -> bool:
    return offers(conn).get(dev, ("",))[0] == rid


def rollouts(conn: Db, active_only: bool = False, device: str | None = None) -> list[dict]:
    """Each rollout with its release's version and the count of its kiosks
    by update state (`failed`: those whose update of this release failed,
    was refused or rolled back; `done`: those running it, healthy)."""
    where = ["1 = 1"]
    args: list[Any] = []
    if active_only:
        where.append("r.state = 'active'")
    if device:
        where.append("r.id IN (SELECT rollout_id FROM fw_rollout_kiosks WHERE device_id = ?)")
        args.append(device)
    fail = ", ".join("'%s'" % s for s in FAILED_STATES)
    return row_dicts(conn.execute(
        "SELECT r.id, r.release_id, f.fw, r.cohort, r.max_failed, r.boots, r.trial_s, "
        "r.state, r.reason, r.created_ms, r.stopped_ms, "
        "(SELECT count(*) FROM fw_rollout_kiosks k WHERE k.rollout_id = r.id) AS kiosks, "
        "(SELECT count(*) FROM fw_rollout_kiosks k JOIN fw_kiosk_updates u ON u.device_id "
        " = k.device_id WHERE k.rollout_id = r.id AND u.release_id = r.release_id AND "
        " u.state IN (%s)) AS failed, "
        "(SELECT count(*) FROM fw_rollout_kiosks k JOIN fw_kiosk_updates u ON u.device_id "
        " = k.device_id WHERE k.rollout_id = r.id AND u.release_id = r.release_id AND "
        " u.state = 'ok') AS done "
        "FROM fw_rollouts r JOIN fw_releases f ON f.id = r.release_id WHERE %s ORDER BY r.id"
        % (fail, " AND ".join(where)), args))


def kiosk_states(conn: Db, site: str | None = None,
                 site_ids: Iterable[str] | None = None) -> list[dict]:
    """Every trusted kiosk with its firmware version (from its update report,
    else its status) and update state; only those of `site_ids` when given."""
    args: list[Any] = []
    where = "k.revoked_ms IS NULL"
    if site:
        where += " AND k.site_id = ?"
        args.append(site)
    rows = row_dicts(conn.execute(
        "SELECT k.id AS device_id, k.site_id, coalesce(u.fw, s.fw) AS fw, "
        "coalesce(u.state, 'idle') AS state, u.release_id, coalesce(u.got, 0) AS got, "
        "coalesce(u.size, 0) AS size, u.error, u.updated_ms FROM kiosks k "
        "LEFT JOIN fw_kiosk_updates u ON u.device_id = k.id "
        "LEFT JOIN kiosk_status s ON s.device_id = k.id WHERE %s ORDER BY k.id" % where,
        args))
    if site_ids is None:
        return rows
    keep = set(site_ids)
    return [r for r in rows if r["site_id"] in keep]
