"""`borne firmware build|deploy`: compile the kiosk firmware, copy it onto a kiosk."""
from __future__ import annotations

from sync_server.commands.common import Subparsers
from sync_server.devices import firmware


def add_commands(sub: Subparsers) -> None:
    p = sub.add_parser("firmware", help="build the kiosk firmware and deploy it over USB")
    fsub = p.add_subparsers(dest="firmware_command", metavar="ACTION", required=True)
    b = fsub.add_parser("build", help="compile the firmware with mpy-cross, with a manifest")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--src", default=firmware.REPO,
                   help="source tree holding firmware/ and protocol/ (default: the"
                        " firmware installed with this command)")
    b.set_defaults(func=firmware.cmd_build)
    d = fsub.add_parser("deploy", help="copy a build onto a kiosk with mpremote and restart it")
    d.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    d.add_argument("--dir", help="a folder made by `borne firmware build` "
                   "(default: build the firmware now)")
    d.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the kiosk at each step (default 10)")
    d.set_defaults(func=firmware.cmd_deploy)
