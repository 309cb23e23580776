"""`borne provision`: set up a kiosk plugged in over USB serial. Registers it
(or takes given credentials), writes its configuration through the serial
console, reads it back, verifies it, restarts the firmware and shows its status."""
import argparse
import base64
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from typing import Any

from protocol import server_wire as w
from sync_server.broker import dynsec
from sync_server.broker import tls as broker_tls
from sync_server.broker.url import parse_broker_url
from sync_server.devices.console import ConsoleError, KioskConsole
from sync_server.errors import CliError
from sync_server.storage import registry
from sync_server.storage.connection import connect

# Firmware releases this server can provision: same wire protocol, same major.
FW_MAJOR = 1
NO_SPACE = re.compile(r"^\S+$")


def check_version(port: str, answer: dict[str, Any]) -> None:
    """The answer to `version` must come from a firmware we can set up."""
    fw = answer.get("fw")
    proto = answer.get("proto")
    major = str(fw).split(".")[0]
    if proto != w.VERSION or not major.isdigit() or int(major) != FW_MAJOR:
        raise CliError("incompatible kiosk firmware on %s: firmware %s speaks protocol %s; "
                       "this server needs firmware %d.x with protocol %d "
                       "(update it with `borne firmware deploy --port %s`)"
                       % (port, fw, proto, FW_MAJOR, w.VERSION, port))


def check_args(args: argparse.Namespace) -> None:
    if args.wifi_pass is not None and not args.wifi:
        raise CliError("--wifi-pass needs --wifi SSID")
    if args.wifi and args.wifi_pass is None:
        raise CliError("--wifi needs --wifi-pass (the Wi-Fi password)")
    for name in ("wifi", "wifi_pass", "secret", "site"):
        value = getattr(args, name)
        if value is not None and not NO_SPACE.match(value):
            raise CliError("--%s must not be empty or contain spaces" % name.replace("_", "-"))
    if args.device_id is not None and not w.valid_device_id(args.device_id):
        raise CliError("--device-id %r: use 1 to 32 letters, digits, '-' and '_'"
                       % args.device_id)
    tls = False
    if args.broker is not None:
        try:
            tls = parse_broker_url(args.broker, credentials=False).tls
        except ValueError:
            raise CliError("--broker %r: use mqtts://host:port" % args.broker) from None
    if args.broker and not tls and not args.lab_plain_tcp:
        raise CliError("--broker %s is plain TCP: use mqtts://host:8883 with --ca, or add "
                       "--lab-plain-tcp for a lab" % args.broker)
    if args.broker and tls and not args.ca:
        raise CliError("--broker %s needs --ca FILE: the CA the kiosk verifies the broker "
                       "with (ca.crt of `borne tls init`)" % args.broker)
    if args.secret and not args.device_id:
        raise CliError("--secret needs --device-id")
    if not args.secret and not args.db:
        raise CliError("give --db to register the kiosk, or --device-id and --secret "
                       "from `borne kiosk add`")


def register(args: argparse.Namespace) -> tuple[str, str, int | None]:
    """(device_id, secret, buttons or None), registering the kiosk when needed."""
    if args.secret:
        return args.device_id, args.secret, None
    try:
        conn = connect(args.db)
    except sqlite3.Error as e:
        raise CliError("cannot open database %s: %s" % (args.db, e)) from None
    try:
        site = registry.get_site(conn, args.site)
        dev, secret = registry.add_kiosk(conn, args.site, args.device_id)
        print(dynsec.tell_running(conn, dev, secret), file=sys.stderr)
    except ValueError as e:
        raise CliError(str(e)) from None
    finally:
        conn.close()
    return dev, secret, site.get("buttons")


def settings_for(args: argparse.Namespace, dev: str, secret: str,
                 buttons: int | None) -> tuple[list[str], dict[str, Any]]:
    """Console lines to type, and the `show config` fields they must give."""
    lines = ["set device " + dev, "set user " + dev, "set secret " + secret,
             "set site " + args.site]
    expect = {"device": dev, "user": dev, "secret_set": True, "site": args.site}
    if buttons:
        lines.append("set buttons %d" % buttons)
        expect["buttons"] = buttons
    if args.broker:
        lines.append("set broker " + args.broker)
        expect["broker"] = args.broker
    if args.wifi:
        lines.append("set wifi %s %s" % (args.wifi, args.wifi_pass))
        expect["wifi_ssid"] = args.wifi
    if args.ca:
        der = broker_tls.ca_der(args.ca)
        lines.insert(0, "set ca " + base64.b64encode(der).decode())
        expect["ca"] = broker_tls.fingerprint(der)
    return lines, expect


def provision(con: KioskConsole, args: argparse.Namespace,
              out: Callable[[str], object] = print) -> dict[str, Any]:
    check_version(con.port, con.command("version"))
    before = con.command("show config")
    if not args.broker and not before.get("broker"):
        raise CliError("the kiosk on %s has no broker yet: give --broker mqtts://host:port"
                       % con.port)
    check_pending(con, before, args)
    dev, secret, buttons = register(args)
    if not args.secret:
        out("registered kiosk %s at site %s" % (dev, args.site))
    lines, expect = settings_for(args, dev, secret, buttons)
    try:
        for line in lines:
            con.command(line)
        shown = con.command("show config")
    except (ConsoleError, CliError) as e:
        retry = "" if args.secret else (
            " The kiosk is registered: rerun with --device-id %s --secret=%s" % (dev, secret))
        raise CliError("%s.%s" % (e, retry)) from None
    wrong = ["%s=%r (wanted %r)" % (k, shown.get(k), v)
             for k, v in sorted(expect.items()) if shown.get(k) != v]
    if wrong:
        raise CliError("the kiosk on %s did not keep its configuration: %s"
                       % (con.port, ", ".join(wrong)))
    out("configuration written and read back: device %s, site %s, broker %s%s%s"
        % (dev, shown.get("site"), shown.get("broker"),
           ", wifi " + shown["wifi_ssid"] if shown.get("wifi_ssid") else "",
           ", ca " + shown["ca"] if shown.get("ca") else ""))
    boot = con.command("status").get("boot")
    con.command("reboot")
    status = wait_status(con, args.wait_online, boot)
    out("status: device %s, boot %s, mqtt %s, clock %s, journal %s pending, last seq %s"
        % (status.get("device"), status.get("boot"), status.get("mqtt"), status.get("clock"),
           status.get("journal"), status.get("seq")))
    if args.wait_online and status.get("mqtt") != "up":
        out("warning: the kiosk is not connected to the broker yet: check the Wi-Fi, the "
            "broker address and that the server runs")
    return status


def check_pending(con: KioskConsole, before: dict[str, Any], args: argparse.Namespace) -> None:
    """Votes still in the journal belong to the kiosk's current identity and
    site: re-provisioning it as another kiosk or for another site would send
    them under the new one. Refuse until they are delivered."""
    old_dev = before.get("device")
    if not old_dev:
        return
    moving = (args.device_id and args.device_id != old_dev) or not args.device_id or (
        before.get("site") and before.get("site") != args.site)
    if not moving:
        return
    pending = con.command("journal").get("pending") or 0
    if pending:
        raise CliError("the kiosk on %s still holds %d vote(s) of kiosk %s (site %s) not yet "
                       "delivered: connect it to its server until its journal is empty, "
                       "then provision it again" % (con.port, pending, old_dev,
                                                    before.get("site")))


def wait_status(con: KioskConsole, wait_online: float, old_boot: int | None) -> dict[str, Any]:
    """`status` once the firmware is back after its restart (a new boot
    number); with wait_online, until its broker connection is up or that
    many seconds have passed."""
    deadline = time.monotonic() + max(wait_online, 0) + con.timeout
    while True:
        try:
            status = con.command("status")
        except CliError:
            if time.monotonic() >= deadline:
                raise
            continue
        restarted = status.get("boot") != old_boot
        if restarted and (status.get("mqtt") == "up"
                          or time.monotonic() >= deadline - con.timeout):
            return status
        if time.monotonic() >= deadline:
            raise CliError("the kiosk on %s did not restart after `reboot`" % con.port)
        time.sleep(0.2)


def run(args: argparse.Namespace) -> None:
    check_args(args)
    try:
        with KioskConsole(args.port, timeout=args.timeout) as con:
            provision(con, args)
    except ConsoleError as e:
        raise CliError(str(e)) from None
