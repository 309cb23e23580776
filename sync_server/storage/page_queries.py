"""The reads behind the web pages and the JSON API that no other storage
module serves: kiosk health rows of a site and pages of raw votes."""
from sync_server.storage.access_queries import Store
from sync_server.storage.connection import raw_conn, row_dicts
from sync_server.storage.votes import F_UNDATABLE

VOTE_COLUMNS = ("device_id", "seq", "utc_ms", "level", "scale", "flags", "boot", "received_ms")


def kiosk_status(db: Store, site_id: str) -> list[tuple]:
    """(id, state, last_seen_ms, battery_pct, journal) of the site's trusted
    kiosks, by id; the status fields are None for a kiosk never heard from."""
    return [tuple(r) for r in raw_conn(db).execute(
        "SELECT k.id, s.state, s.last_seen_ms, s.battery_pct, s.journal"
        " FROM kiosks k LEFT JOIN kiosk_status s ON s.device_id = k.id"
        " WHERE k.site_id = ? AND k.revoked_ms IS NULL ORDER BY k.id", (site_id,))]


def dated_votes(db: Store, site_id: str, start: int | None, end: int | None,
                after: tuple[int, str, int] | None, limit: int) -> list[dict]:
    """Up to `limit` dated votes of a site with start <= utc_ms < end,
    ordered by (utc_ms, device_id, seq) and following the key `after`."""
    where = ["site_id = ?", "utc_ms IS NOT NULL"]
    args: list = [site_id]
    if start is not None:
        where.append("utc_ms >= ?")
        args.append(start)
    if end is not None:
        where.append("utc_ms < ?")
        args.append(end)
    if after is not None:
        where.append("(utc_ms, device_id, seq) > (?, ?, ?)")
        args += list(after)
    return row_dicts(raw_conn(db).execute(
        "SELECT %s FROM votes WHERE %s ORDER BY utc_ms, device_id, seq LIMIT ?"
        % (", ".join(VOTE_COLUMNS), " AND ".join(where)), (*args, limit)))


def undated_votes(db: Store, site_id: str) -> int:
    """Votes of a site still waiting for their boot's time anchor (not
    those flagged undatable: no anchor will ever date them)."""
    return raw_conn(db).execute("SELECT count(*) FROM votes WHERE site_id = ?"
                                " AND utc_ms IS NULL AND flags & ? = 0",
                                (site_id, F_UNDATABLE)).fetchone()[0]
