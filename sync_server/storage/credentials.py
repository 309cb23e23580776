"""Broker passwords in Mosquitto's own format (`mosquitto_passwd`, PBKDF2-SHA512),
computed here so no Mosquitto tool is needed to provision a kiosk."""
import base64
import hashlib
import hmac
import os
import secrets

ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
SERVER_USER = "borne-server"


def new_secret() -> str:
    """A kiosk or server password: 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """Return the part after `user:` of a mosquitto password file line."""
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, ITERATIONS)
    return "$7$%d$%s$%s" % (ITERATIONS, base64.b64encode(salt).decode(),
                             base64.b64encode(digest).decode())


def verify_secret(secret: str | None, stored: str) -> bool:
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac("sha512", (secret or "").encode(),
                                  base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False
