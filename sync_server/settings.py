"""The server's settings in one typed object. Each comes, by increasing
priority, from its default here, from a TOML file (`borne serve --config
FILE`, or $BORNE_CONFIG) and from the command line; docs/CONFIGURATION.md
lists them."""
from __future__ import annotations

import dataclasses
import os
import sys
import urllib.parse
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


DEFAULT_HTTP = "127.0.0.1:8080"


class SettingsError(ValueError):
    """A settings file or value the server cannot use; the message says why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    db: str = dataclasses.field(default_factory=lambda: os.environ.get("BORNE_DB", "borne.db"))
    """SQLite database (default: $BORNE_DB, else borne.db)."""
    http: str | None = None
    """HOST:PORT of the web pages and API (default 127.0.0.1:8080; none with ingest_only)."""
    mqtt: str | None = None
    """External broker URL mqtt://[user[:password]@]host:port; None starts the embedded broker."""
    broker_port: int = 1883
    """Port of the embedded broker (0 picks a free one)."""
    tls: str | None = None
    """Folder of `borne tls init`: the embedded broker also serves MQTT over TLS."""
    tls_listener: str = "8883"
    """[HOST:]PORT of the embedded broker's TLS listener."""
    ingest_only: bool = False
    """Only store votes: one of several workers on a shared subscription."""
    public_url: str | None = None
    """The address users reach the server at, e.g. https://borne.mairie.example; links
    are built on it and, when it is https, cookies are Secure (default: the web address)."""
    trust_proxy: bool = False
    """Take the QR form's client address from the last X-Forwarded-For hop."""
    qr_per_address_hour: int = 300
    """QR answers accepted per client address and hour."""
    smtp_host: str | None = None
    """SMTP server alert e-mails go through (none: no e-mail is sent)."""
    smtp_port: int = 587
    """Its port."""
    smtp_tls: str = "starttls"
    """starttls, tls (implicit, usually port 465) or none."""
    smtp_user: str | None = None
    """SMTP login, if the server asks for one."""
    smtp_password_file: str | None = None
    """File holding the SMTP password ($BORNE_SMTP_PASSWORD wins over it)."""
    smtp_from: str = "borne@localhost"
    """From address of alert e-mails."""
    webhook_secret_file: str | None = None
    """File holding the webhooks' HMAC secret ($BORNE_WEBHOOK_SECRET wins; default:
    one made once and kept in the database, `borne alerts webhook-secret`)."""
    alert_every_s: int = 60
    """Seconds between two evaluations of the alert rules (also run after ingest commits)."""
    alert_retry_s: int = 30
    """First wait before resending a failed alert message; doubled at each attempt."""

    @property
    def web_address(self) -> str | None:
        """The HOST:PORT to listen on, None for an ingest-only worker."""
        if self.http is None and not self.ingest_only:
            return DEFAULT_HTTP
        return self.http

    def app_options(self) -> dict[str, Any]:
        """The keyword arguments of `make_app` after the database path."""
        return {"mqtt": self.mqtt or "embedded", "broker_port": self.broker_port,
                "ingest_only": self.ingest_only, "trust_proxy": self.trust_proxy,
                "public_url": self.public_url,
                "qr_per_address_hour": self.qr_per_address_hour,
                **{name: getattr(self, name) for name in ALERT_SETTINGS}}


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
ALERT_SETTINGS = ("smtp_host", "smtp_port", "smtp_tls", "smtp_user", "smtp_password_file",
                  "smtp_from", "webhook_secret_file", "alert_every_s", "alert_retry_s")
SMTP_TLS = ("starttls", "tls", "none")


def _checked(name: str, value: Any, where: str) -> Any:
    field = FIELDS.get(name)
    if field is None:
        raise SettingsError("%s: unknown setting %r (known: %s)"
                            % (where, name, ", ".join(sorted(FIELDS))))
    kind = str(field.type)
    if kind == "bool":
        ok, expected = isinstance(value, bool), "true or false"
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        expected = "a whole number, 0 or more"
    else:  # str or str | None
        ok, expected = isinstance(value, str), "a string"
    if ok and name == "public_url":
        parts = urllib.parse.urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        expected = "an http:// or https:// address with a host, e.g. https://borne.mairie.example"
        value = value.rstrip("/")
    if ok and name == "smtp_tls":
        ok, expected = value in SMTP_TLS, "one of " + ", ".join(SMTP_TLS)
    if not ok:
        raise SettingsError("%s: %s must be %s, not %r" % (where, name, expected, value))
    return value


def read_file(path: str) -> dict[str, Any]:
    """The settings a TOML file gives (a flat table of the names above)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise SettingsError("cannot read settings file %s: %s" % (path, e.strerror)) from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError("settings file %s: %s" % (path, e)) from None
    return {k: _checked(k, v, path) for k, v in data.items()}


def load(path: str | None = None, **overrides: Any) -> Settings:
    """Defaults, then the file at `path` (or $BORNE_CONFIG), then the
    overrides whose value is not None (the command line's options)."""
    values: dict[str, Any] = {}
    path = path or os.environ.get("BORNE_CONFIG") or None
    if path:
        values.update(read_file(path))
    values.update((k, _checked(k, v, "command line"))
                  for k, v in overrides.items() if v is not None)
    return Settings(**values)
