"""The tables behind web access: screen links, team links (the agents'
pages of a site: same shape, another table), managers and their sessions.
Only hashes of link secrets and session tokens are stored here; deciding who
may see what is `sync_server.web.access`'s job."""
import sqlite3

import sqlite_utils

from sync_server.storage.connection import now_ms, raw_conn, row_dicts

# What these functions take: the app's sqlite_utils.Database or a plain connection.
Store = sqlite3.Connection | sqlite_utils.Database
# The kinds of secret site links, and their tables.
LINK_TABLES = {"screen": "screen_links", "team": "team_links"}


def site_exists(db: Store, site_id: str) -> bool:
    return raw_conn(db).execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() \
        is not None


def insert_link(db: Store, site_id: str, token_hash: str, label: str,
                kind: str = "screen") -> int:
    cur = raw_conn(db).execute(
        "INSERT INTO %s (site_id, token_hash, label, created_ms) VALUES (?,?,?,?)"
        % LINK_TABLES[kind], (site_id, token_hash, label, now_ms()))
    return int(cur.lastrowid or 0)


def revoke_link(db: Store, link_id: int, kind: str = "screen") -> bool:
    """Mark an active link revoked; False if there was none with this id."""
    cur = raw_conn(db).execute(
        "UPDATE %s SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL" % LINK_TABLES[kind],
        (now_ms(), link_id))
    return cur.rowcount > 0


def list_links(db: Store, site_id: str | None = None, kind: str = "screen") -> list[dict]:
    sql = "SELECT id, site_id, label, created_ms, revoked_ms FROM " + LINK_TABLES[kind]
    args: tuple = ()
    if site_id:
        sql += " WHERE site_id = ?"
        args = (site_id,)
    return row_dicts(raw_conn(db).execute(sql + " ORDER BY id", args))


def link_site(db: Store, token_hash: str, kind: str = "screen") -> str | None:
    """The site of an active link, by its secret's hash."""
    row = raw_conn(db).execute(
        "SELECT site_id FROM %s WHERE token_hash = ? AND revoked_ms IS NULL" % LINK_TABLES[kind],
        (token_hash,)).fetchone()
    return row[0] if row else None


def manager_exists(db: Store, username: str) -> bool:
    return raw_conn(db).execute("SELECT 1 FROM managers WHERE username = ?",
                                (username,)).fetchone() is not None


def insert_manager(db: Store, username: str, password_hash: str,
                   org_id: int | None = None) -> None:
    """A manager of one organisation, or (org_id None) a network operator."""
    raw_conn(db).execute(
        "INSERT INTO managers (username, password_hash, created_ms, role, org_id)"
        " VALUES (?,?,?,?,?)",
        (username, password_hash, now_ms(), "operator" if org_id is None else "manager",
         org_id))


def disable_manager(db: Store, username: str) -> bool:
    """Disable an active manager and end its sessions; False if none."""
    c = raw_conn(db)
    cur = c.execute("UPDATE managers SET disabled_ms = ? WHERE username = ?"
                    " AND disabled_ms IS NULL", (now_ms(), username))
    if not cur.rowcount:
        return False
    c.execute("DELETE FROM manager_sessions WHERE manager_id IN"
              " (SELECT id FROM managers WHERE username = ?)", (username,))
    return True


def enable_manager(db: Store, username: str) -> bool:
    """Let a disabled manager log in again; False if there is none."""
    return raw_conn(db).execute("UPDATE managers SET disabled_ms = NULL WHERE username = ?"
                                " AND disabled_ms IS NOT NULL", (username,)).rowcount > 0


def reset_manager(db: Store, username: str, password_hash: str) -> bool:
    """A new password for a manager, whose sessions end; False if none."""
    c = raw_conn(db)
    if not c.execute("UPDATE managers SET password_hash = ? WHERE username = ?",
                     (password_hash, username)).rowcount:
        return False
    c.execute("DELETE FROM manager_sessions WHERE manager_id IN"
              " (SELECT id FROM managers WHERE username = ?)", (username,))
    return True


def list_managers(db: Store) -> list[dict]:
    """Every manager account, by name, with its role and organisation."""
    return row_dicts(raw_conn(db).execute(
        "SELECT m.username, m.created_ms, m.disabled_ms, m.role, o.name AS organisation"
        " FROM managers m LEFT JOIN organisations o ON o.id = m.org_id ORDER BY m.username"))


def active_manager(db: Store, username: str) -> tuple[int, str] | None:
    """(id, password hash) of an active manager."""
    row = raw_conn(db).execute("SELECT id, password_hash FROM managers WHERE username = ?"
                               " AND disabled_ms IS NULL", (username,)).fetchone()
    return (row[0], row[1]) if row else None


def set_password_hash(db: Store, manager_id: int, password_hash: str) -> None:
    raw_conn(db).execute("UPDATE managers SET password_hash = ? WHERE id = ?",
                         (password_hash, manager_id))


def insert_session(db: Store, token_hash: str, manager_id: int, expires_ms: int) -> None:
    """A new session; expired ones go at the same time."""
    c = raw_conn(db)
    now = now_ms()
    c.execute("DELETE FROM manager_sessions WHERE expires_ms < ?", (now,))
    c.execute("INSERT INTO manager_sessions (token_hash, manager_id, created_ms, expires_ms)"
              " VALUES (?,?,?,?)", (token_hash, manager_id, now, expires_ms))


def delete_session(db: Store, token_hash: str) -> None:
    raw_conn(db).execute("DELETE FROM manager_sessions WHERE token_hash = ?", (token_hash,))


def session_account(db: Store, token_hash: str) -> tuple[str, str, int | None] | None:
    """(username, role, org_id) of the active manager of a live session."""
    row = raw_conn(db).execute(
        "SELECT m.username, m.role, m.org_id FROM manager_sessions s"
        " JOIN managers m ON m.id = s.manager_id"
        " WHERE s.token_hash = ? AND s.expires_ms > ? AND m.disabled_ms IS NULL",
        (token_hash, now_ms())).fetchone()
    return (row[0], row[1], row[2]) if row else None
