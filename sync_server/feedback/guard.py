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


def device_cookie_name(site_id: str) -> str:
    return "borne_answered_" + hashlib.sha256(site_id.encode()).hexdigest()[:12]


def device_recent(cookie_value: str | None, at_ms: int | None = None) -> bool:
    """True if this browser answered for the site less than an hour ago."""
    at_ms = now_ms() if at_ms is None else at_ms
    if not cookie_value or not cookie_value.isdigit():
        return False
    return 0 <= at_ms - int(cookie_value) < DEVICE_WINDOW_MS


class AddressLimiter:
    """At most `per_hour` accepted answers per client address and clock hour."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._day: int | None = None
        self._salt = b""

    def key(self, address: str, at_ms: int) -> str:
        day = at_ms // DAY_MS
        if day != self._day:
            self._day, self._salt = day, os.urandom(32)
        return hashlib.sha256(self._salt + address.encode()).hexdigest()

    def take(self, conn: Db, address: str, at_ms: int) -> bool:
        """Count one answer inside the caller's transaction; False if the
        address is over its limit (the caller then rolls back)."""
        window = at_ms - at_ms % HOUR_MS
        return qr.count_in_window(conn, self.key(address, at_ms), window) <= self.per_hour


def client_address(request: web.Request, trust_proxy: bool = False) -> str:
    """The peer address, or the last X-Forwarded-For hop behind a trusted proxy."""
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"
