"""`borne broker-config --out DIR`: a Mosquitto configuration fragment,
password file and ACL for every trusted kiosk and the server's accounts."""
from __future__ import annotations

import argparse

from sync_server.broker import mosquitto
from sync_server.broker import tls as broker_tls
from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.storage import registry
from sync_server.storage.connection import connect
from sync_server.storage.credentials import SERVER_USER


def add_commands(sub: Subparsers) -> None:
    p = data_command(sub, "broker-config", run,
                       help="write Mosquitto config, password file and ACL for the kiosks")
    p.add_argument("--out", required=True, help="directory to write into")
    p.add_argument("--workers", type=int, default=4,
                   help="ingest worker accounts borne-ingest-1..N (default 4)")
    p.add_argument("--tls", metavar="DIR", help="folder of `borne tls init`: add a TLS "
                   "listener for the kiosks with its broker certificate")
    p.add_argument("--tls-listener", metavar="[HOST:]PORT", default="8883",
                   help="address of that TLS listener (default 8883, every interface)")


def run(args: argparse.Namespace) -> None:
    if args.workers < 0:
        raise CliError("--workers must be 0 or more")
    port = broker_tls.parse_listener(args.tls_listener, "")[1]
    conn = connect(args.db)
    out = mosquitto.write(conn, args.out, args.workers, args.tls, args.tls_listener)
    n = len(registry.trusted_kiosks(conn))
    print("wrote %s/{mosquitto.conf,passwd,acl%s}: %d kiosks, server account %s"
          % (out, ",broker.crt,broker.key" if args.tls else "", n, SERVER_USER))
    if args.tls:
        print("kiosks connect to mqtts://HOST:%d (TLS)" % port)
    print("include mosquitto.conf in the broker's config, reload it (SIGHUP), then run"
          " `borne serve --mqtt mqtt://HOST:PORT`")
