"""Who may see a site's figures: a per-site secret screen link (revocable),
or a logged-in manager. Only SHA-256 hashes of link secrets and session
tokens are stored; passwords are PBKDF2-SHA256."""
import hashlib
import hmac
import os
import secrets
import time

from sync_server.storage.rollup import raw_conn

SESSION_COOKIE = "borne_manager"
SESSION_DAYS = 7
PBKDF2_ITERATIONS = 200_000


def now_ms():
    return int(time.time() * 1000)


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


# --- screen links ---------------------------------------------------------

def add_link(db, site_id, label=""):
    """Create a screen link for a site; returns (id, secret). The secret is
    shown once: only its hash is kept."""
    c = raw_conn(db)
    if not c.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone():
        raise ValueError("unknown site: %s" % site_id)
    secret = secrets.token_urlsafe(24)
    cur = c.execute(
        "INSERT INTO screen_links (site_id, token_hash, label, created_ms) VALUES (?,?,?,?)",
        (site_id, _digest(secret), label, now_ms()))
    return cur.lastrowid, secret


def revoke_link(db, link_id):
    cur = raw_conn(db).execute(
        "UPDATE screen_links SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
        (now_ms(), link_id))
    if not cur.rowcount:
        raise ValueError("no active screen link with id %s" % link_id)


def list_links(db, site_id=None):
    sql = "SELECT id, site_id, label, created_ms, revoked_ms FROM screen_links"
    args = ()
    if site_id:
        sql += " WHERE site_id = ?"
        args = (site_id,)
    cols = ("id", "site_id", "label", "created_ms", "revoked_ms")
    return [dict(zip(cols, r)) for r in raw_conn(db).execute(sql + " ORDER BY id", args)]


def link_ok(db, site_id, secret):
    if not secret or len(secret) > 200:
        return False
    row = raw_conn(db).execute(
        "SELECT site_id FROM screen_links WHERE token_hash = ? AND revoked_ms IS NULL",
        (_digest(secret),)).fetchone()
    return bool(row) and row[0] == site_id


# --- managers ---------------------------------------------------------------

def hash_password(password, salt=None, iterations=PBKDF2_ITERATIONS):
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "pbkdf2_sha256$%d$%s$%s" % (iterations, salt.hex(), dk.hex())


def check_password(password, stored):
    try:
        kind, iterations, salt, digest = stored.split("$")
        if kind != "pbkdf2_sha256":
            return False
        dk = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                 int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(dk.hex(), digest)


def add_manager(db, username, password):
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise ValueError("a manager name is 1 to 64 characters")
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    c = raw_conn(db)
    if c.execute("SELECT 1 FROM managers WHERE username = ?", (username,)).fetchone():
        raise ValueError("manager %s already exists" % username)
    c.execute("INSERT INTO managers (username, password_hash, created_ms) VALUES (?,?,?)",
              (username, hash_password(password), now_ms()))


def disable_manager(db, username):
    c = raw_conn(db)
    cur = c.execute("UPDATE managers SET disabled_ms = ? WHERE username = ?"
                    " AND disabled_ms IS NULL", (now_ms(), username))
    if not cur.rowcount:
        raise ValueError("no active manager named %s" % username)
    c.execute("DELETE FROM manager_sessions WHERE manager_id IN"
              " (SELECT id FROM managers WHERE username = ?)", (username,))


def login(db, username, password):
    """A new session token for valid credentials, else None."""
    c = raw_conn(db)
    row = c.execute("SELECT id, password_hash FROM managers WHERE username = ?"
                    " AND disabled_ms IS NULL", (username,)).fetchone()
    if not row or not check_password(password, row[1]):
        return None
    token = secrets.token_urlsafe(32)
    now = now_ms()
    c.execute("DELETE FROM manager_sessions WHERE expires_ms < ?", (now,))
    c.execute("INSERT INTO manager_sessions (token_hash, manager_id, created_ms, expires_ms)"
              " VALUES (?,?,?,?)", (_digest(token), row[0], now, now + SESSION_DAYS * 86_400_000))
    return token


def logout(db, token):
    if token:
        raw_conn(db).execute("DELETE FROM manager_sessions WHERE token_hash = ?", (_digest(token),))


def session_manager(db, token):
    """The manager's name for a valid session token, else None."""
    if not token or len(token) > 200:
        return None
    row = raw_conn(db).execute(
        "SELECT m.username FROM manager_sessions s JOIN managers m ON m.id = s.manager_id"
        " WHERE s.token_hash = ? AND s.expires_ms > ? AND m.disabled_ms IS NULL",
        (_digest(token), now_ms())).fetchone()
    return row[0] if row else None


def request_manager(request, db):
    """The logged-in manager of an aiohttp request, else None."""
    return session_manager(db, request.cookies.get(SESSION_COOKIE))


def may_see_site(request, db, site_id):
    """A manager sees every site; a screen link sees its own site."""
    return bool(request_manager(request, db)) or link_ok(db, site_id, request.query.get("key"))
