"""The `borne` command is installed and its help lists the commands."""
import argparse
import json
import os
import re
import subprocess
import sys

from protocol import server_wire as w
from sync_server.commands.cli import build_parser

BORNE = os.path.join(os.path.dirname(sys.executable), "borne")


def borne(*args):
    return subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command():
    out = borne("--help")
    assert out.returncode == 0
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"demo", "serve", "site", "kiosk", "broker-config", "qr", "mystery", "screen",
            "manager", "rollup", "sim", "provision", "firmware", "wire"} <= set(sub.choices)
    listed = re.findall(r"^    (\S+)", out.stdout, re.M)
    assert set(sub.choices) <= set(listed)


def test_wire_decode_reports_refusal_without_traceback():
    out = borne("wire", "decode", "03560001")  # versions 1 and 2 exist, not 3
    assert out.returncode == 2
    assert "VersionError" in out.stderr and "Traceback" not in out.stderr


def test_wire_decode_shows_version_and_campaign():
    for campaign, version in ((None, 1), (7, 2)):
        data = w.encode_batch("k1", 3, [(5, 1763900000000, 1, 3, 0)], None, campaign)
        out = borne("wire", "decode", data.hex())
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert (got["version"], got["campaign"], got["votes"][0]["level"]) == (
            version, campaign or 0, 1)
