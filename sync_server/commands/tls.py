"""`borne tls init`: the CA kiosks pin at provisioning and the broker's
certificate (sync_server.broker.tls makes them)."""
from __future__ import annotations

import argparse
import ipaddress
import os

from sync_server.broker import tls
from sync_server.broker.tls import BROKER_CERT, BROKER_DAYS, CA_CERT
from sync_server.commands.common import Subparsers
from sync_server.errors import CliError


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("tls", help="certificates for MQTT over TLS (CA and broker)")
    tsub = p.add_subparsers(dest="tls_command", metavar="ACTION", required=True)
    init = tsub.add_parser("init", help="create the CA (once) and the broker's certificate")
    init.add_argument("--dir", required=True, help="folder for ca.crt, ca.key, broker.crt, "
                      "broker.key (created 0700)")
    init.add_argument("--host", required=True, action="append", metavar="NAME",
                      help="name (or IP address) kiosks use to reach the broker, as in "
                      "their mqtts://NAME:8883; repeat for several")
    init.add_argument("--days", type=int, default=BROKER_DAYS,
                      help="validity of the broker's certificate (default %d)" % BROKER_DAYS)
    init.set_defaults(func=run_init)



def _valid_host(h):
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        labels = h.split(".")
        return all(0 < len(x) < 64 and x.replace("-", "").isalnum() for x in labels)


def run_init(args: argparse.Namespace) -> None:
    bad = [h for h in args.host if not _valid_host(h)]
    if bad:
        raise CliError("--host %r: give a host name or an IP address" % bad[0])
    if args.days < 1:
        raise CliError("--days must be 1 or more")
    created, cert = tls.init(args.dir, args.host, args.days)
    d = os.path.abspath(args.dir)
    print("%s CA %s/%s (fingerprint %s)" % ("created" if created else "kept", d, CA_CERT,
                                             tls.fingerprint(tls.ca_der(os.path.join(d, CA_CERT)))))
    print("broker certificate %s/%s for %s, valid until %s"
          % (d, BROKER_CERT, ", ".join(args.host), cert.not_valid_after_utc.date()))
    print("next: `borne broker-config --tls %s ...`, then `borne provision --ca %s/%s ...`"
          % (d, d, CA_CERT))
