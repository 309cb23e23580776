"""Sites and kiosks: the registry the broker credentials and ingest trust.

Functions take a sqlite3 connection (or a sqlite_utils.Database) and raise
ValueError with a user-facing message on bad input."""
import json
import re
import zoneinfo
from collections.abc import Iterable
from typing import Any

from protocol import server_wire as w
from sync_server.storage import credentials as passwords
from sync_server.storage.connection import Db, now_ms, raw_conn, row_dicts, setting_once

DEFAULT_TZ = "Europe/Paris"
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SITE_FIELDS = ("name", "timezone", "hours", "buttons", "lockout_s", "sync_s", "telemetry_s")


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone %r (e.g. Europe/Paris)" % name) from None
    return name


def check_hours(hours: str | dict) -> str:
    """`hours` as JSON text or dict; return the canonical JSON text."""
    if isinstance(hours, str):
        try:
            hours = json.loads(hours)
        except ValueError:
            raise ValueError("opening hours are not JSON: %s" % hours) from None
    try:
        w.decode_config(w.encode_json({"site": "x", "buttons": 2, "hours": hours}))
    except w.WireError as e:
        raise ValueError("opening hours: %s" % e) from None
    return json.dumps(hours, sort_keys=True, separators=(",", ":"))


class UnknownSite(ValueError, LookupError):
    """No site has this id; the message says so."""


def _site_dicts(cursor):
    """Sites rows as dicts, opening hours parsed: the one shape of a site."""
    rows = row_dicts(cursor)
    for r in rows:
        r["hours"] = json.loads(r["hours"])
    return rows


def add_site(conn: Db, site_id: str, name: str, timezone: str = DEFAULT_TZ,
             buttons: int | str = 4, hours: str | dict = "{}") -> None:
    if not SITE_ID.match(site_id or ""):
        raise ValueError("site id %r: use 1 to 64 lowercase letters, digits and '-'" % site_id)
    if not name:
        raise ValueError("a site needs a name")
    if not 2 <= int(buttons) <= 4:
        raise ValueError("buttons must be 2, 3 or 4")
    check_timezone(timezone)
    hours = check_hours(hours)
    if conn.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone():
        raise ValueError("site %r already exists" % site_id)
    t = now_ms()
    conn.execute(
        "INSERT INTO sites (id, name, timezone, hours, buttons, created_ms, updated_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)", (site_id, name, timezone, hours, int(buttons), t, t))


def set_site(conn: Db, site_id: str, **changes: Any) -> None:
    """Change a site's settings; bumps `updated_ms` so the running server
    republishes the kiosks' config."""
    get_site(conn, site_id)
    changes = {k: v for k, v in changes.items() if v is not None}
    for k in changes:
        if k not in SITE_FIELDS:
            raise ValueError("unknown site setting %r" % k)
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    if "hours" in changes:
        changes["hours"] = check_hours(changes["hours"])
    if "buttons" in changes and not 2 <= int(changes["buttons"]) <= 4:
        raise ValueError("buttons must be 2, 3 or 4")
    if not changes:
        return
    sets = ", ".join("%s = ?" % k for k in changes)
    conn.execute("UPDATE sites SET %s, updated_ms = ? WHERE id = ?" % sets,
                 (*changes.values(), now_ms(), site_id))


def get_site(conn: Db, site_id: str) -> dict:
    """The site as a dict (hours parsed); UnknownSite if there is none."""
    rows = _site_dicts(raw_conn(conn).execute("SELECT * FROM sites WHERE id = ?", (site_id,)))
    if not rows:
        raise UnknownSite("unknown site %r" % site_id)
    return rows[0]


def list_sites(conn: Db, site_ids: Iterable[str] | None = None) -> list[dict]:
    """Every site as get_site gives it, with its number of trusted `kiosks`
    (only those of `site_ids` when given)."""
    rows = _site_dicts(raw_conn(conn).execute(
        "SELECT s.*, (SELECT count(*) FROM kiosks k WHERE k.site_id = s.id"
        " AND k.revoked_ms IS NULL) AS kiosks FROM sites s ORDER BY s.id"))
    return rows if site_ids is None else [r for r in rows if r["id"] in set(site_ids)]


def site_names(conn: Db, site_ids: Iterable[str] | None = None,
               previous: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """(id, name) of every site in service (not archived), by name; only
    those of `site_ids` when given. `previous` itself when it holds the
    same (compared row by row: nothing is built when nothing changed)."""
    keep = None if site_ids is None else set(site_ids)
    same = previous or []
    out: list[tuple[str, str]] | None = None  # None while the rows equal `same`
    i = 0
    for row in raw_conn(conn).execute(
            "SELECT id, name FROM sites WHERE archived_ms IS NULL ORDER BY name, id"):
        if keep is not None and row[0] not in keep:
            continue
        if out is None:
            if i < len(same) and same[i] == tuple(row):
                i += 1
                continue
            out = same[:i]
        out.append(tuple(row))
    if out is None:
        return previous if previous is not None and i == len(previous) else same[:i]
    return out


def archive_site(conn: Db, site_id: str, archived: bool = True) -> None:
    """Take a site out of service (its votes, answers and audits stay, it
    leaves the rankings), or back into service. Its kiosks must be revoked
    first: an archived site collects nothing more."""
    site = get_site(conn, site_id)
    if archived:
        kiosks = [r[0] for r in raw_conn(conn).execute(
            "SELECT id FROM kiosks WHERE site_id = ? AND revoked_ms IS NULL ORDER BY id",
            (site_id,))]
        if kiosks:
            raise ValueError("site %r still has kiosks in service (%s): revoke them first "
                             "(`borne kiosk revoke ID`)" % (site_id, ", ".join(kiosks)))
        if site["archived_ms"]:
            raise ValueError("site %r is already archived" % site_id)
    elif not site["archived_ms"]:
        raise ValueError("site %r is not archived" % site_id)
    t = now_ms()
    raw_conn(conn).execute("UPDATE sites SET archived_ms = ?, updated_ms = ? WHERE id = ?",
                           (t if archived else None, t, site_id))


def site_zones(conn: Db, site_ids: Iterable[str] | None = None) -> dict[str, str]:
    """{site_id: time zone name} for the given sites (the default zone for
    an unknown one), or for every site when `site_ids` is None."""
    c = raw_conn(conn)
    if site_ids is None:
        return {sid: tz or DEFAULT_TZ for sid, tz in c.execute("SELECT id, timezone FROM sites")}
    ids = list(site_ids)
    zones = dict.fromkeys(ids, DEFAULT_TZ)
    if ids:
        marks = ",".join("?" * len(ids))
        for sid, tz in c.execute("SELECT id, timezone FROM sites WHERE id IN (%s)" % marks, ids):
            zones[sid] = tz or DEFAULT_TZ
    return zones


def next_kiosk_id(conn: Db) -> str:
    """The first free id of the k0001, k0002, ... series."""
    n = conn.execute("SELECT count(*) FROM kiosks").fetchone()[0] + 1
    while True:
        device_id = "k%04d" % n
        if not conn.execute("SELECT 1 FROM kiosks WHERE id = ?", (device_id,)).fetchone():
            return device_id
        n += 1


def add_kiosk(conn: Db, site_id: str, device_id: str | None = None,
              secret: str | None = None) -> tuple[str, str]:
    """Register a kiosk; return (device_id, secret), the secret made here
    unless given. Only the secret's hash is kept: it cannot be shown again."""
    if get_site(conn, site_id)["archived_ms"]:
        raise ValueError("site %r is archived: `borne site unarchive %s` first"
                         % (site_id, site_id))
    if device_id is None:
        device_id = next_kiosk_id(conn)
    check_new_kiosk_id(conn, device_id)
    secret = secret or passwords.new_secret()
    conn.execute("INSERT INTO kiosks (id, site_id, secret_hash, created_ms) VALUES (?, ?, ?, ?)",
                 (device_id, site_id, passwords.hash_secret(secret), now_ms()))
    return device_id, secret


def check_new_kiosk_id(conn: Db, device_id: str) -> None:
    """ValueError unless `device_id` may be given to a new kiosk."""
    if not w.valid_device_id(device_id) or device_id == passwords.SERVER_USER:
        raise ValueError("kiosk id %r: use 1 to 32 letters, digits, '-' and '_'" % device_id)
    if conn.execute("SELECT 1 FROM kiosks WHERE id = ?", (device_id,)).fetchone():
        raise ValueError("kiosk %r already exists (ids are never reused)" % device_id)


def forget_unused_kiosk(conn: Db, device_id: str) -> bool:
    """Undo a registration no kiosk ever used (no vote, no status): True if
    it was removed."""
    cur = conn.execute(
        "DELETE FROM kiosks WHERE id = ? AND NOT EXISTS (SELECT 1 FROM votes WHERE device_id = ?)"
        " AND NOT EXISTS (SELECT 1 FROM kiosk_status WHERE device_id = ?)",
        (device_id, device_id, device_id))
    return bool(cur.rowcount)


def reenable_kiosk(conn: Db, device_id: str, secret: str) -> None:
    """Trust a revoked kiosk again, under a new secret (the old one may
    have leaked)."""
    cur = conn.execute("UPDATE kiosks SET revoked_ms = NULL, secret_hash = ? WHERE id = ?"
                       " AND revoked_ms IS NOT NULL", (passwords.hash_secret(secret), device_id))
    if not cur.rowcount:
        if conn.execute("SELECT 1 FROM kiosks WHERE id = ?", (device_id,)).fetchone():
            raise ValueError("kiosk %r is not revoked" % device_id)
        raise ValueError("unknown kiosk %r" % device_id)


def kiosk_record(conn: Db, device_id: str) -> dict | None:
    """A registered kiosk's site, revocation, last known state and the
    highest seq the server stored from it (0 for none); None if unknown."""
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT k.id, k.site_id, k.revoked_ms, s.state, s.last_seen_ms,"
        " COALESCE((SELECT max(seq) FROM votes v WHERE v.device_id = k.id), 0) AS last_seq"
        " FROM kiosks k LEFT JOIN kiosk_status s ON s.device_id = k.id WHERE k.id = ?",
        (device_id,)))
    return rows[0] if rows else None


def revoke_kiosk(conn: Db, device_id: str) -> None:
    cur = conn.execute("UPDATE kiosks SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
                       (now_ms(), device_id))
    if not cur.rowcount:
        if conn.execute("SELECT 1 FROM kiosks WHERE id = ?", (device_id,)).fetchone():
            raise ValueError("kiosk %r is already revoked" % device_id)
        raise ValueError("unknown kiosk %r" % device_id)


def list_kiosks(conn: Db, site_id: str | None = None,
                site_ids: Iterable[str] | None = None) -> list[dict]:
    """Kiosks with their health (kiosk_status), secret hashes left out; only
    those of `site_ids` when given."""
    sql = ("SELECT k.id, k.site_id, k.created_ms, k.revoked_ms, s.state, s.last_seen_ms,"
           " s.boot, s.fw, s.battery_pct, s.battery_mv, s.rssi, s.journal, s.suppressed,"
           " s.dropped, s.uptime_s, s.clock, s.acked_seq, COALESCE(s.rejected, 0) AS rejected,"
           " s.last_reject, COALESCE(s.undatable, 0) AS undatable,"
           " COALESCE(s.unknown_campaign, 0) AS unknown_campaign"
           " FROM kiosks k LEFT JOIN kiosk_status s ON s.device_id = k.id")
    args: tuple[str, ...] = ()
    if site_id:
        sql += " WHERE k.site_id = ?"
        args = (site_id,)
    rows = row_dicts(conn.execute(sql + " ORDER BY k.id", args))
    if site_ids is None:
        return rows
    keep = set(site_ids)
    return [r for r in rows if r["site_id"] in keep]


def server_secret(conn: Db) -> str:
    """The server's broker password, made on first use and kept in the
    database so `broker-config` and `serve` agree across runs."""
    return setting_once(conn, "server_secret", passwords.new_secret)


def trusted_kiosks(conn: Db) -> list[tuple[str, str, str]]:
    """(device_id, site_id, secret_hash) of every kiosk not revoked, by id."""
    return [tuple(r) for r in raw_conn(conn).execute(
        "SELECT id, site_id, secret_hash FROM kiosks WHERE revoked_ms IS NULL ORDER BY id")]


def kiosk_secret_hash(conn: Db, device_id: str) -> str | None:
    """The secret hash of a kiosk not revoked, else None."""
    row = raw_conn(conn).execute(
        "SELECT secret_hash FROM kiosks WHERE id = ? AND revoked_ms IS NULL",
        (device_id,)).fetchone()
    return row[0] if row else None


def online_kiosks(conn: Db) -> list[str]:
    """Trusted kiosks whose last status says online."""
    return [r[0] for r in raw_conn(conn).execute(
        "SELECT s.device_id FROM kiosk_status s JOIN kiosks k ON k.id = s.device_id"
        " WHERE s.state = 'online' AND k.revoked_ms IS NULL")]


def change_mark(conn: Db) -> tuple:
    """Changes when a site is changed or a kiosk added or revoked."""
    return tuple(raw_conn(conn).execute(
        "SELECT (SELECT max(updated_ms) FROM sites), (SELECT count(*) FROM kiosks),"
        " (SELECT count(*) FROM kiosks WHERE revoked_ms IS NOT NULL)").fetchone())


def kiosk_site(conn: Db, device_id: str) -> tuple[str, int | None] | None:
    """(site_id, revoked_ms) of a registered kiosk, else None."""
    return raw_conn(conn).execute("SELECT site_id, revoked_ms FROM kiosks WHERE id = ?",
                                  (device_id,)).fetchone()
