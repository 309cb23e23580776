"""`borne broker-config --out DIR`: the Mosquitto drop-in, DIR/borne.conf
and its files in DIR/borne/ (see docs/MOSQUITTO.md)."""
from __future__ import annotations

import argparse
import os

from sync_server.broker import mosquitto
from sync_server.commands.common import Subparsers, data_command
from sync_server.errors import CliError
from sync_server.storage import registry
from sync_server.storage.connection import connect
from sync_server.storage.credentials import SERVER_USER


def add_commands(sub: Subparsers) -> None:
    p = data_command(sub, "broker-config", run,
                     help="write the Mosquitto drop-in: borne.conf, accounts and topic rules")
    p.add_argument("--out", required=True,
                   help="Mosquitto's include_dir (Debian: /etc/mosquitto/conf.d)")
    p.add_argument("--listener", metavar="HOST:PORT", default="127.0.0.1:1883",
                   help="the plain MQTT listener `borne serve` connects to "
                   "(default 127.0.0.1:1883)")
    p.add_argument("--workers", type=int, default=4,
                   help="ingest worker accounts borne-ingest-1..N (default 4)")
    p.add_argument("--tls", metavar="DIR", help="folder of `borne tls init`: add a TLS "
                   "listener for the kiosks with its broker certificate")
    p.add_argument("--tls-listener", metavar="HOST:PORT", default="0.0.0.0:8883",
                   help="address of that TLS listener (default 0.0.0.0:8883)")
    p.add_argument("--persistence", metavar="DIR", help="set persistence_location to DIR "
                   "(Debian's mosquitto.conf already keeps it in /var/lib/mosquitto)")
    p.add_argument("--plugin", metavar="PATH", default=mosquitto.DYNSEC_PLUGIN,
                   help="Mosquitto's dynamic-security plugin (default: Debian 12's)")


def run(args: argparse.Namespace) -> None:
    if args.workers < 0:
        raise CliError("--workers must be 0 or more")
    conn = connect(args.db)
    conf = mosquitto.write(conn, args.out, args.workers, args.tls, args.tls_listener,
                           args.listener, args.persistence, args.plugin)
    n = len(registry.trusted_kiosks(conn))
    print("wrote %s and %s/%s/: %d kiosks, server account %s"
          % (conf, os.path.dirname(conf), mosquitto.FILES, n, SERVER_USER))
    if args.tls:
        print("kiosks connect to mqtts://HOST:%s (TLS)" % args.tls_listener.rpartition(":")[2])
    print("restart Mosquitto (systemctl restart mosquitto), then run `borne serve --mqtt"
          " mqtt://%s`; kiosks added or revoked from now on apply without a restart"
          % args.listener)
