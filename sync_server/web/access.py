"""The credentials of the pages: per-site secret links (revocable), of two
kinds: `screen` (the agents' daily screen) and `team` (the agents' polls and
idea box), and manager logins (who may use which route is `audience`'s table). Only
SHA-256 hashes of link secrets and session tokens are stored. Manager
passwords are argon2 hashes (pwdlib), computed in a worker thread so that a
login never stalls the event loop; a PBKDF2 hash written by earlier versions
is still accepted and replaced by an argon2 one at the next successful
login."""
import asyncio
import hashlib
import hmac
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from sync_server.storage import access_queries as q
from sync_server.storage.access_queries import Store
from sync_server.storage.connection import now_ms
from sync_server.web.keys import DB, SETTINGS

SESSION_COOKIE = "borne_manager"
SESSION_DAYS = 7
MAX_TOKEN = 200  # longer link secrets and session tokens are refused unread


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- screen links ---------------------------------------------------------

def add_link(db: Store, site_id: str, label: str = "", kind: str = "screen") -> tuple[int, str]:
    """Create a link of `kind` (screen or team) for a site; returns (id,
    secret). The secret is shown once: only its hash is kept."""
    if not q.site_exists(db, site_id):
        raise ValueError("unknown site: %s" % site_id)
    secret = secrets.token_urlsafe(24)
    return q.insert_link(db, site_id, _digest(secret), label, kind), secret


def revoke_link(db: Store, link_id: int, kind: str = "screen") -> None:
    if not q.revoke_link(db, link_id, kind):
        raise ValueError("no active %s link with id %s" % (kind, link_id))


def rotate_links(db: Store, site_id: str, label: str = "",
                 kind: str = "team") -> tuple[int, str]:
    """Revoke every active link of `kind` of the site and make a new one:
    (id, secret)."""
    for link in q.list_links(db, site_id, kind):
        if link["revoked_ms"] is None:
            q.revoke_link(db, link["id"], kind)
    return add_link(db, site_id, label, kind)


def list_links(db: Store, site_id: str | None = None, kind: str = "screen") -> list[dict]:
    return q.list_links(db, site_id, kind)


def link_ok(db: Store, site_id: str, secret: str | None, kind: str = "screen") -> bool:
    if not secret or len(secret) > MAX_TOKEN:
        return False
    return q.link_site(db, _digest(secret), kind) == site_id


# --- manager passwords ----------------------------------------------------

class LegacyPBKDF2:
    """Verifies the `pbkdf2_sha256$iterations$salt$digest` hashes of earlier
    versions, so that pwdlib can upgrade them; never makes new ones."""

    PREFIX = "pbkdf2_sha256$"

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        text = hash.decode() if isinstance(hash, bytes) else hash
        return text.startswith(cls.PREFIX)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("new passwords are hashed with argon2")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        text = hash.decode() if isinstance(hash, bytes) else hash
        raw = password.encode() if isinstance(password, str) else password
        try:
            _kind, iterations, salt, digest = text.split("$")
            got = hashlib.pbkdf2_hmac("sha256", raw, bytes.fromhex(salt), int(iterations))
        except ValueError:
            return False
        return hmac.compare_digest(got.hex(), digest)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


# The first hasher makes new hashes; the others only verify old ones.
PASSWORDS = PasswordHash((Argon2Hasher(), LegacyPBKDF2()))
# Checked when the user name is unknown, so that the answer takes as long.
_NOBODY = PASSWORDS.hash(secrets.token_urlsafe(16))
HASHING_NICE = 10


def _lower_priority() -> None:
    """Run this worker (and the lane threads argon2 starts from it, which
    inherit it) below the event loop: on Linux a nice value is per thread."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere a thread id is no process id: the thread count alone limits
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICE)
    except OSError:  # not allowed here: the thread count alone limits
        pass


# Argon2 is meant to be costly (64 MiB, several lanes): logins hash in their
# own few threads at a lower priority, so that the event loop answers at
# once however many logins arrive together; the logins queue.
_HASHING = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) // 2),
                              thread_name_prefix="argon2", initializer=_lower_priority)


async def _hashing(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_HASHING, fn, *args)


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")


def add_manager(db: Store, username: str, password: str, org_id: int | None = None) -> None:
    """A manager of the organisation `org_id`, who sees only its sites; with
    no organisation, a network operator, who sees every site."""
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise ValueError("a manager name is 1 to 64 characters")
    _check_password(password)
    if q.manager_exists(db, username):
        raise ValueError("manager %s already exists" % username)
    q.insert_manager(db, username, hash_password(password), org_id)


def disable_manager(db: Store, username: str) -> None:
    if not q.disable_manager(db, username):
        raise ValueError("no active manager named %s" % username)


def enable_manager(db: Store, username: str) -> None:
    if not q.enable_manager(db, username):
        raise ValueError("no disabled manager named %s" % username)


def reset_manager(db: Store, username: str, password: str) -> None:
    """A new password; the manager's open sessions end."""
    _check_password(password)
    if not q.reset_manager(db, username, hash_password(password)):
        raise ValueError("no manager named %s" % username)


def list_managers(db: Store) -> list[dict]:
    return q.list_managers(db)


async def login(db: Store, username: str, password: str) -> str | None:
    """A new session token for valid credentials, else None. The hash is
    checked in a worker thread; an old-format hash is upgraded on success."""
    row = q.active_manager(db, username)
    if row is None:
        await _hashing(PASSWORDS.verify, password, _NOBODY)
        return None
    manager_id, stored = row
    try:
        valid, upgraded = await _hashing(PASSWORDS.verify_and_update, password, stored)
    except Exception:  # an unreadable stored hash is a refused login, not a 500
        return None
    if not valid:
        return None
    if upgraded:
        q.set_password_hash(db, manager_id, upgraded)
    token = secrets.token_urlsafe(32)
    q.insert_session(db, _digest(token), manager_id,
                     now_ms() + SESSION_DAYS * 86_400_000)
    return token


def logout(db: Store, token: str | None) -> None:
    if token:
        q.delete_session(db, _digest(token))


@dataclass(frozen=True)
class Account:
    """A logged-in manager: an operator sees every site, a manager those of
    `org_id` only (a manager whose organisation is gone sees none)."""
    username: str
    operator: bool
    org_id: int | None


def session_account(db: Store, token: str | None) -> Account | None:
    """The account of a valid session token, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = q.session_account(db, _digest(token))
    if row is None:
        return None
    username, role, org_id = row
    return Account(username, role == "operator", org_id)


def session_manager(db: Store, token: str | None) -> str | None:
    """The manager's name for a valid session token, else None."""
    account = session_account(db, token)
    return account.username if account else None


# --- requests ---------------------------------------------------------------

def request_account(request: web.Request) -> Account | None:
    """The logged-in manager account of a request, else None."""
    return session_account(request.app[DB], request.cookies.get(SESSION_COOKIE))


def request_manager(request: web.Request) -> str | None:
    """The logged-in manager of a request, else None."""
    account = request_account(request)
    return account.username if account else None


def secure_cookies(request: web.Request) -> bool:
    """Cookies are `Secure` when the server's public address is https (behind
    a reverse proxy that ends TLS the request itself is plain http)."""
    public_url = request.app[SETTINGS].get("public_url") or ""
    return request.secure or public_url.lower().startswith("https://")


def safe_next(value: str | None) -> str:
    """Where to go after logging in: only manager pages of this server,
    never an absolute URL or //host."""
    if value and value.startswith("/manager") and not value.startswith("//"):
        return value
    return "/manager"
