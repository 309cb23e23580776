"""Abuse and privacy guards of the QR form: CSRF tokens, the per-device
cookie, the per-address rate limit. No raw address is ever stored or logged:
the rate limit keys on SHA-256(daily salt + address), and the salt lives only
in this process's memory, so yesterday's keys cannot be recomputed."""
import hashlib
import hmac
import os
import secrets

from sync_server.storage import qr
from sync_server.storage.connection import now_ms, setting_once

CSRF_COOKIE = "borne_csrf"
CSRF_MAX_AGE_MS = 4 * 3600 * 1000
DEVICE_WINDOW_MS = 3600 * 1000  # one answer per device per site per hour
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


def csrf_key(conn):
    return setting_once(conn, "qr_csrf_key", lambda: secrets.token_hex(32)).encode()


def new_nonce():
    return secrets.token_urlsafe(18)


def csrf_field(key, nonce, token, issued_ms=None):
    """The hidden form value: issue time and an HMAC binding it to the
    browser's nonce cookie and to the site's token."""
    issued_ms = now_ms() if issued_ms is None else issued_ms
    return "%d.%s" % (issued_ms, _sign(key, nonce, token, issued_ms))


def csrf_ok(key, nonce, token, field, at_ms=None):
    at_ms = now_ms() if at_ms is None else at_ms
    if not nonce or not field or "." not in field:
        return False
    issued, _, mac = field.partition(".")
    if not issued.isdigit():
        return False
    issued_ms = int(issued)
    if not (0 <= at_ms - issued_ms <= CSRF_MAX_AGE_MS):
        return False
    return hmac.compare_digest(mac, _sign(key, nonce, token, issued_ms))


def _sign(key, nonce, token, issued_ms):
    msg = ("%s|%s|%d" % (nonce, token, issued_ms)).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def device_cookie_name(site_id):
    return "borne_answered_" + hashlib.sha256(site_id.encode()).hexdigest()[:12]


def device_recent(cookie_value, at_ms=None):
    """True if this browser answered for the site less than an hour ago."""
    at_ms = now_ms() if at_ms is None else at_ms
    if not cookie_value or not cookie_value.isdigit():
        return False
    return 0 <= at_ms - int(cookie_value) < DEVICE_WINDOW_MS


class AddressLimiter:
    """At most `per_hour` accepted answers per client address and clock hour."""

    def __init__(self, per_hour):
        self.per_hour = per_hour
        self._day = None
        self._salt = None

    def key(self, address, at_ms):
        day = at_ms // DAY_MS
        if day != self._day:
            self._day, self._salt = day, os.urandom(32)
        return hashlib.sha256(self._salt + address.encode()).hexdigest()

    def take(self, conn, address, at_ms):
        """Count one answer inside the caller's transaction; False if the
        address is over its limit (the caller then rolls back)."""
        window = at_ms - at_ms % HOUR_MS
        return qr.count_in_window(conn, self.key(address, at_ms), window) <= self.per_hour


def client_address(request, trust_proxy=False):
    """The peer address, or the last X-Forwarded-For hop behind a trusted proxy."""
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "unknown"
