"""`borne provision`: set up a kiosk plugged in over USB serial."""
from __future__ import annotations

import argparse

from sync_server.commands.common import Subparsers, add_db_argument
from sync_server.devices import provision


def add_network_arguments(p: argparse.ArgumentParser) -> None:
    """The kiosk's Wi-Fi, broker and CA, as every command that sets them takes them."""
    p.add_argument("--wifi", metavar="SSID",
                   help="Wi-Fi network (any printable characters; quote it for the shell)")
    p.add_argument("--wifi-pass", metavar="PASS", dest="wifi_pass",
                   help="Wi-Fi password (any printable characters)")
    p.add_argument("--broker", metavar="URL",
                   help="mqtts://host:port the kiosk connects to over TLS (needs --ca); "
                   "mqtt://host:port only with --lab-plain-tcp")
    p.add_argument("--ca", metavar="FILE", help="CA certificate the kiosk pins to verify "
                   "the broker (ca.crt of `borne tls init`)")
    p.add_argument("--fw-key", metavar="FILE", dest="fw_key",
                   help="public key (.pub of `borne firmware key`) the kiosk checks "
                   "firmware updates with")
    p.add_argument("--lab-plain-tcp", action="store_true", dest="lab_plain_tcp",
                   help="lab only: accept an mqtt:// broker, password and votes in clear")


def add_console_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True,
                   help="serial port, e.g. /dev/ttyUSB0 (or socket://HOST:PORT)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for each answer of the kiosk (default 5)")


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("provision", help="set up a kiosk plugged in over USB serial")
    add_console_arguments(p)
    p.add_argument("--site", help="site the kiosk stands in")
    add_network_arguments(p)
    add_db_argument(p)
    p.add_argument("--keep-identity", action="store_true", dest="keep_identity",
                   help="change only --wifi/--wifi-pass, --broker, --ca or --fw-key: the kiosk "
                   "keeps its id, secret, site and votes")
    p.add_argument("--device-id", dest="device_id",
                   help="kiosk id (alone: register under this id; with --secret: the "
                   "credentials of `borne kiosk add`, nothing registered)")
    p.add_argument("--secret", help="the kiosk's secret, from `borne kiosk add` "
                   "(write --secret=S: a secret may start with '-')")
    p.add_argument("--wait-online", type=float, default=10.0, metavar="SECONDS",
                   help="after the restart, wait up to this long for the broker connection "
                   "(default 10; 0 to not wait)")
    p.set_defaults(func=provision.run)
