"""API tokens: a random secret sent as `Authorization: Bearer TOKEN`, scoped
`read` (every GET of the API) or `admin` (also the API's writes). Only the
SHA-256 of a token is kept (a token is 32 random bytes, so a fast hash is
enough); the token itself is shown once, when it is made."""
import hashlib
import secrets

from sync_server.storage.access_queries import Store
from sync_server.storage.connection import now_ms, raw_conn, row_dicts

SCOPES = ("read", "admin")
PREFIX = "borne_"
MAX_TOKEN = 200  # longer bearer values are refused unread


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_token(db: Store, scope: str, label: str = "") -> tuple[int, str]:
    """A new token: (id, token). The token is not kept, only its hash."""
    if scope not in SCOPES:
        raise ValueError("a token's scope is one of %s, not %r" % (", ".join(SCOPES), scope))
    token = PREFIX + secrets.token_urlsafe(32)
    cur = raw_conn(db).execute(
        "INSERT INTO api_tokens (token_hash, scope, label, created_ms) VALUES (?,?,?,?)",
        (_digest(token), scope, label, now_ms()))
    return int(cur.lastrowid or 0), token


def list_tokens(db: Store) -> list[dict]:
    return row_dicts(raw_conn(db).execute(
        "SELECT id, scope, label, created_ms, revoked_ms FROM api_tokens ORDER BY id"))


def revoke_token(db: Store, token_id: int) -> None:
    cur = raw_conn(db).execute(
        "UPDATE api_tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
        (now_ms(), token_id))
    if not cur.rowcount:
        raise ValueError("no active API token with id %s" % token_id)


def token_scope(db: Store, token: str | None) -> str | None:
    """The scope of an active token, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = raw_conn(db).execute(
        "SELECT scope FROM api_tokens WHERE token_hash = ? AND revoked_ms IS NULL",
        (_digest(token),)).fetchone()
    return row[0] if row else None
