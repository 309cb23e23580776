"""`borne provision`: set up a kiosk plugged in over USB serial."""
from __future__ import annotations

from sync_server.commands.common import Subparsers
from sync_server.devices import provision


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("provision", help="set up a kiosk plugged in over USB serial")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--site", required=True, help="site the kiosk stands in")
    p.add_argument("--wifi", metavar="SSID", help="Wi-Fi network (no spaces)")
    p.add_argument("--wifi-pass", metavar="PASS", dest="wifi_pass")
    p.add_argument("--broker", metavar="URL",
                   help="mqtts://host:port the kiosk connects to over TLS (needs --ca); "
                   "mqtt://host:port only with --lab-plain-tcp")
    p.add_argument("--ca", metavar="FILE", help="CA certificate the kiosk pins to verify "
                   "the broker (ca.crt of `borne tls init`)")
    p.add_argument("--lab-plain-tcp", action="store_true", dest="lab_plain_tcp",
                   help="lab only: accept an mqtt:// broker, password and votes in clear")
    p.add_argument("--db", help="SQLite database to register the kiosk in "
                   "(not needed with --device-id and --secret)")
    p.add_argument("--device-id", dest="device_id",
                   help="kiosk id (with --db: register under this id)")
    p.add_argument("--secret", help="the kiosk's secret, from `borne kiosk add` "
                   "(write --secret=S: a secret may start with '-')")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for each answer of the kiosk (default 5)")
    p.add_argument("--wait-online", type=float, default=10.0, metavar="SECONDS",
                   help="after the restart, wait up to this long for the broker connection "
                   "(default 10; 0 to not wait)")
    p.set_defaults(func=provision.run)
