"""`borne wire decode HEX`: show what a vote batch or ack payload holds,
or why it is refused (for technicians reading a broker log)."""
from __future__ import annotations

import argparse
import binascii
import json

from protocol import server_wire as w
from sync_server.commands.common import Subparsers
from sync_server.errors import CliError


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("wire", help="decode a wire-protocol payload")
    wsub = p.add_subparsers(dest="wire_command", metavar="ACTION", required=True)
    d = wsub.add_parser("decode", help="decode a vote batch or ack given in hexadecimal")
    d.add_argument("payload", help="the payload bytes, in hexadecimal")
    d.set_defaults(func=decode)


def decode(args: argparse.Namespace) -> None:
    try:
        data = binascii.unhexlify(args.payload.replace(" ", "").replace(":", ""))
    except (binascii.Error, ValueError):
        raise CliError("the payload is not hexadecimal") from None
    kind = data[1] if len(data) > 1 else None
    try:
        if kind == w.KIND_ACK:
            dev, seq = w.decode_ack(data)
            out = {"kind": "ack", "device_id": dev, "seq": seq}
        else:
            b = w.decode_batch(data)
            out = {"kind": "votes", "version": b.version, "device_id": b.device_id,
                   "boot": b.boot, "campaign": b.campaign, "anchor": b.anchor, "votes": [
                       dict(zip(("seq", "t_ms", "level", "scale", "flags"), v))
                       for v in b.votes]}
    except w.WireError as e:
        raise CliError("refused (%s): %s" % (type(e).__name__, e)) from None
    print(json.dumps(out, indent=1))
