"""Sending alerts: e-mail through SMTP (aiosmtplib) and webhooks (an HTTP
POST of JSON signed with HMAC-SHA256). Retries are the caller's business
(`service`); each function here makes one attempt and raises
`DeliveryError` when it fails.

Webhook signature (docs/DEPLOY.md, "Alerts"): the header
`X-Borne-Signature: t=<unix seconds>,v1=<hex>` where hex is
HMAC-SHA256(secret, "<t>." + raw body). The receiver recomputes it over the
body exactly as received and refuses a stale `t`."""
import asyncio
import dataclasses
import email.message
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from typing import Any

import aiohttp
import aiosmtplib

from sync_server.storage.connection import Db, raw_conn, setting_once, utc_text

log = logging.getLogger("borne.alerts")

SIGNATURE_HEADER = "X-Borne-Signature"
TIMEOUT_S = 15
WEBHOOK_SECRET_KEY = "webhook_secret"  # settings-table key when no file or env gives it


class DeliveryError(Exception):
    """One attempt failed; the message says why."""


@dataclasses.dataclass
class Config:
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"          # starttls / tls / none
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "borne@localhost"
    webhook_secret: str = ""
    public_url: str | None = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any], conn: Db) -> "Config":
        """From the server's settings (app[SETTINGS] or Settings.app_options()):
        the SMTP password from $BORNE_SMTP_PASSWORD or its file, the webhook
        secret from $BORNE_WEBHOOK_SECRET, its file, or the database."""
        password = os.environ.get("BORNE_SMTP_PASSWORD") or _read(settings.get(
            "smtp_password_file"))
        secret = os.environ.get("BORNE_WEBHOOK_SECRET") or _read(settings.get(
            "webhook_secret_file")) or webhook_secret(conn)
        return cls(smtp_host=settings.get("smtp_host"),
                   smtp_port=settings.get("smtp_port") or 587,
                   smtp_tls=settings.get("smtp_tls") or "starttls",
                   smtp_user=settings.get("smtp_user"), smtp_password=password,
                   smtp_from=settings.get("smtp_from") or "borne@localhost",
                   webhook_secret=secret, public_url=settings.get("public_url"))


def _read(path: str | None) -> str | None:
    """A secret file's text; None (and an error logged) if it cannot be read:
    the messages then fail with the server's answer, and say so."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError as e:
        log.error("alerts: cannot read %s: %s", path, e.strerror)
        return None


def webhook_secret(conn: Db) -> str:
    """The secret made once and kept in the database (when no file or
    environment variable gives one)."""
    return setting_once(raw_conn(conn), WEBHOOK_SECRET_KEY, lambda: secrets.token_hex(32))


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    """The signature header's value for a body."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def verify(secret: str, body: bytes, header: str, max_age_s: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does: the signature matches and is recent."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((time.time() if now is None else now) - t) > max_age_s:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ------------------------------------------------------------------ texts

KIND_TEXT = {
    "spike": ("pic d'insatisfaction", "dissatisfaction spike"),
    "offline": ("borne hors ligne", "kiosk offline"),
    "silent": ("borne silencieuse (aucun vote)", "kiosk silent (no vote)"),
    "battery": ("batterie faible", "low battery"),
    "backlog": ("votes en attente d'envoi", "votes waiting to be sent"),
    "dropped": ("votes perdus par la borne", "votes dropped by the kiosk"),
    "clock": ("horloge inconnue", "clock unknown"),
    "day_low": ("journée très en dessous de l'habitude", "day far below the usual level"),
    "test": ("message d'essai", "test message"),
}
EVENT_TEXT = {"opened": ("Alerte", "Alert"), "resolved": ("Fin d'alerte", "Alert resolved"),
              "test": ("Essai", "Test")}


def payload(alert: dict | None, event: str) -> dict[str, Any]:
    """The webhook's JSON (and the facts of the e-mail)."""
    body: dict[str, Any] = {"event": event, "sent_ms": int(time.time() * 1000)}
    if alert is not None:
        body["alert"] = {k: alert.get(k) for k in (
            "id", "site_id", "site_name", "device_id", "kind", "state", "opened_ms",
            "acknowledged_ms", "resolved_ms", "detail")}
    return body


def email_message(cfg: Config, to: str, alert: dict | None,
                  event: str) -> email.message.EmailMessage:
    """A bilingual message (French, then English)."""
    kind = alert["kind"] if alert else "test"
    fr, en = KIND_TEXT.get(kind, (kind, kind))
    site = (alert.get("site_name") or alert["site_id"]) if alert else "Borne"
    msg = email.message.EmailMessage()
    msg["From"] = cfg.smtp_from
    msg["To"] = to
    msg["Subject"] = "[Borne] %s / %s : %s — %s" % (EVENT_TEXT[event][0], EVENT_TEXT[event][1],
                                                   fr, site)
    lines = ["%s : %s" % (EVENT_TEXT[event][0], fr), "%s: %s" % (EVENT_TEXT[event][1], en), ""]
    if alert:
        lines += ["Site : %s (%s)" % (site, alert["site_id"])]
        if alert.get("device_id"):
            lines.append("Borne / kiosk : %s" % alert["device_id"])
        lines.append("Depuis / since : %s" % utc_text(alert["opened_ms"]))
        if alert.get("resolved_ms"):
            lines.append("Fin / resolved : %s" % utc_text(alert["resolved_ms"]))
        lines += ["Détail / detail : %s" % json.dumps(alert.get("detail") or {},
                                                      ensure_ascii=False), ""]
        if cfg.public_url:
            lines.append("%s/manager/alerts" % cfg.public_url.rstrip("/"))
    else:
        lines.append("Les alertes de Borne arrivent à cette adresse. / "
                     "Borne's alerts reach this address.")
    msg.set_content("\n".join(lines) + "\n")
    return msg


# ------------------------------------------------------------------ sending

async def send_email(cfg: Config, to: str, alert: dict | None, event: str) -> None:
    if not cfg.smtp_host:
        raise DeliveryError("no SMTP server set (smtp_host)")
    msg = email_message(cfg, to, alert, event)
    try:
        await aiosmtplib.send(
            msg, hostname=cfg.smtp_host, port=cfg.smtp_port,
            username=cfg.smtp_user, password=cfg.smtp_password if cfg.smtp_user else None,
            use_tls=cfg.smtp_tls == "tls", start_tls=cfg.smtp_tls == "starttls",
            timeout=TIMEOUT_S)
    except (aiosmtplib.SMTPException, OSError) as e:
        raise DeliveryError("SMTP %s:%d: %s" % (cfg.smtp_host, cfg.smtp_port, e)) from None


async def send_webhook(cfg: Config, url: str, alert: dict | None, event: str,
                       session: aiohttp.ClientSession | None = None) -> None:
    body = json.dumps(payload(alert, event), ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json",
               SIGNATURE_HEADER: sign(cfg.webhook_secret, body)}
    own = session is None
    session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            if resp.status >= 300:
                raise DeliveryError("webhook %s answered %d" % (url, resp.status))
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
        raise DeliveryError("webhook %s: %s" % (url, e or type(e).__name__)) from None
    finally:
        if own:
            await session.close()


async def send(cfg: Config, channel: str, target: str, alert: dict | None, event: str) -> None:
    """One attempt on one channel; DeliveryError if it fails."""
    if channel == "email":
        await send_email(cfg, target, alert, event)
    else:
        await send_webhook(cfg, target, alert, event)
