"""Broker URLs, parsed in one place: `borne serve --mqtt`, `borne provision
--broker` and the simulator's replayed kiosks read them here. `mqtts://` is
MQTT over TLS (default port 8883), `mqtt://` plain TCP (default 1883)."""
import re
import urllib.parse
from typing import NamedTuple

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
_HOST = re.compile(r"^[A-Za-z0-9.\-]+$")


class BrokerUrl(NamedTuple):
    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool = False


def parse_host_port(text: str, default_host: str) -> tuple[str, int]:
    """A listening address, [HOST:]PORT -> (host, port); ValueError unless
    the port is 0 to 65535 (0: the system picks a free one)."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError("bad port in %r" % text)
    return host or default_host, int(port)


def parse_broker_url(url: str, credentials: bool = True) -> BrokerUrl:
    """mqtt[s]://[user[:password]@]host[:port] -> BrokerUrl; ValueError with a
    message for the user otherwise. `credentials=False`: a URL written onto
    a kiosk, which takes its account from its own settings, not the URL."""
    example = ("mqtt://user:password@host:1883" if credentials else "mqtt://host:1883")
    u = urllib.parse.urlsplit(url)
    if (u.scheme not in ("mqtt", "mqtts", "tcp") or not u.hostname or not _HOST.match(u.hostname)
            or u.path not in ("", "/") or u.query or u.fragment):
        raise ValueError("broker URL must look like %s, not %r" % (example, url))
    if not credentials and (u.username is not None or u.password is not None):
        raise ValueError("broker URL must look like %s, without an account: %r"
                         % (example, url))
    try:
        port = u.port or (DEFAULT_TLS_PORT if u.scheme == "mqtts" else DEFAULT_PORT)
    except ValueError:
        raise ValueError("bad port in broker URL %r" % url) from None
    return BrokerUrl(u.hostname, port, urllib.parse.unquote(u.username or "") or None,
                     urllib.parse.unquote(u.password) if u.password is not None else None,
                     u.scheme == "mqtts")
