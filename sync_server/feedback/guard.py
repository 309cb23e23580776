"""Abuse and privacy guards of the QR form: the per-device cookie, the
per-address rate limit (its CSRF field is `sync_server.web.csrf`'s). No raw
address is ever stored or logged: the rate limit keys on SHA-256(daily salt +
address), and the salt lives only in this process's memory, so yesterday's
keys cannot be recomputed."""
import hashlib
import os

from aiohttp import web

from sync_server.storage import qr
from sync_server.storage.connection import Db, now_ms

DEVICE_WINDOW_MS = 3600 * 1000  # one answer per device per site per hour
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
BURST = 30  # answers an address may send at once (a queue at a busy desk)
BLOCK_AFTER = 10  # refusals in a row that make an address blocked for an hour


def device_cookie_name(site_id: str) -> str:
    return "borne_answered_" + hashlib.sha256(site_id.encode()).hexdigest()[:12]


def device_recent(cookie_value: str | None, at_ms: int | None = None) -> bool:
    """True if this browser answered for the site less than an hour ago."""
    at_ms = now_ms() if at_ms is None else at_ms
    if not cookie_value or not (cookie_value.isascii() and cookie_value.isdigit()):
        return False
    return 0 <= at_ms - int(cookie_value) < DEVICE_WINDOW_MS


class AddressLimiter:
    """The per-address budget of METHOD.md ("QR answers"): a bucket of
    `burst` answers refilled at `per_hour`; an address refused `block_after`
    times in a row (a script looping, not a queue of citizens) is blocked
    for an hour. Refused posts are counted, never stored."""

    def __init__(self, per_hour: int, burst: int = BURST, block_after: int = BLOCK_AFTER) -> None:
        self.per_hour = per_hour
        self.burst = burst
        self.block_after = block_after
        self._day: int | None = None
        self._salt = b""

    def key(self, address: str, at_ms: int) -> str:
        day = at_ms // DAY_MS
        if day != self._day:
            self._day, self._salt = day, os.urandom(32)
        return hashlib.sha256(self._salt + address.encode()).hexdigest()

    def take(self, conn: Db, address: str, at_ms: int) -> bool:
        """Spend one answer of the address's budget inside the caller's
        transaction, which commits either way (a refusal is remembered)."""
        key = self.key(address, at_ms)
        row = qr.get_budget(conn, key)
        tokens, updated, refused, blocked = row or (float(self.burst), at_ms, 0, 0)
        tokens = min(float(self.burst),
                     tokens + max(0, at_ms - updated) * self.per_hour / HOUR_MS)
        ok = at_ms >= blocked and tokens >= 1.0
        if ok:
            tokens, refused = tokens - 1.0, 0
        else:
            refused += 1
            if refused >= self.block_after and at_ms >= blocked:
                blocked = at_ms + HOUR_MS
        qr.put_budget(conn, key, tokens, at_ms, refused, blocked, at_ms - DAY_MS)
        return ok


def client_address(request: web.Request, trust_proxy: bool = False) -> str:
    """The peer address, or the last X-Forwarded-For hop behind a trusted proxy."""
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"
