"""`borne firmware build|deploy|key|publish`: compile the kiosk firmware, copy it onto a
kiosk, sign it as a release for updates over the air."""
from __future__ import annotations

from sync_server.commands.common import Subparsers, data_command
from sync_server.devices import firmware, release, rollout


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
    k = fsub.add_parser("key", help="create the Ed25519 key that signs firmware releases")
    k.add_argument("--out", required=True,
                   help="private key file to create (mode 0600); the public key goes to OUT.pub")
    k.set_defaults(func=release.cmd_key)
    pb = fsub.add_parser("publish", help="turn a firmware build into a signed release")
    pb.add_argument("--dir", required=True, help="a folder made by `borne firmware build`")
    pb.add_argument("--key", required=True, help="the signing key of `borne firmware key`")
    pb.add_argument("--out", required=True, help="release folder to write")
    pb.set_defaults(func=release.cmd_publish)
    ro = data_command(fsub, "rollout", rollout.cmd_rollout,
                      help="offer a signed release to kiosks over the air")
    ro.add_argument("--release", required=True, help="a folder made by `borne firmware publish`")
    who = ro.add_mutually_exclusive_group(required=True)
    who.add_argument("--share", type=float, help="this share of all kiosks, e.g. 0.1")
    who.add_argument("--site", help="every kiosk of this site")
    who.add_argument("--kiosks", help="these kiosk ids, separated by commas")
    ro.add_argument("--max-failed", type=float, default=0.2, dest="max_failed",
                    help="stop when more than this share of the cohort failed (default 0.2)")
    ro.add_argument("--boots", type=int, default=3,
                    help="boots the new firmware has to report healthy (default 3)")
    ro.add_argument("--trial-s", type=int, default=600, dest="trial_s",
                    help="seconds from a boot it has to report healthy (default 600)")
    st = data_command(fsub, "stop", rollout.cmd_stop, help="stop a rollout, withdraw its offers")
    st.add_argument("rollout", type=int, help="rollout number (see `borne firmware status`)")
    ss = data_command(fsub, "status", rollout.cmd_status,
                      help="rollouts, and each kiosk's firmware and update state")
    ss.add_argument("--site", help="only this site's kiosks")
    ss.add_argument("--json", action="store_true", help="one JSON object")
