"""`borne provision`: set up a kiosk plugged in over USB serial. Registers it
(or takes given credentials), writes its configuration through the serial
console, reads it back, verifies it, restarts the firmware and shows its status."""
import re
import sqlite3
import time

from borne_server import registry
from borne_server.errors import CliError
from borne_server.provision_serial import ConsoleError, KioskConsole
from borne_server.store import connect
from protocol import server_wire as w

# Firmware releases this server can provision: same wire protocol, same major.
FW_MAJOR = 1
NO_SPACE = re.compile(r"^\S+$")


def add_commands(sub):
    p = sub.add_parser("provision", help="set up a kiosk plugged in over USB serial")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--site", required=True, help="site the kiosk stands in")
    p.add_argument("--wifi", metavar="SSID", help="Wi-Fi network (no spaces)")
    p.add_argument("--wifi-pass", metavar="PASS", dest="wifi_pass")
    p.add_argument("--broker", metavar="URL", help="mqtt://host:port the kiosk connects to")
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
    p.set_defaults(func=run)


def check_version(port, answer):
    """The answer to `version` must come from a firmware we can set up."""
    fw = answer.get("fw")
    proto = answer.get("proto")
    major = str(fw).split(".")[0]
    if proto != w.VERSION or not major.isdigit() or int(major) != FW_MAJOR:
        raise CliError("incompatible kiosk firmware on %s: firmware %s speaks protocol %s; "
                       "this server needs firmware %d.x with protocol %d "
                       "(update it with `borne firmware deploy --port %s`)"
                       % (port, fw, proto, FW_MAJOR, w.VERSION, port))


def check_args(args):
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
    if args.broker is not None and not valid_broker(args.broker):
        raise CliError("--broker %r: use mqtt://host:port" % args.broker)
    if args.secret and not args.device_id:
        raise CliError("--secret needs --device-id")
    if not args.secret and not args.db:
        raise CliError("give --db to register the kiosk, or --device-id and --secret "
                       "from `borne kiosk add`")


def valid_broker(url):
    m = re.match(r"^mqtt://([A-Za-z0-9.\-]+)(?::(\d+))?/?$", url)
    return bool(m) and (m.group(2) is None or 0 < int(m.group(2)) < 65536)


def register(args):
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
    except ValueError as e:
        raise CliError(str(e)) from None
    finally:
        conn.close()
    return dev, secret, site.get("buttons")


def settings_for(args, dev, secret, buttons):
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
    return lines, expect


def provision(con, args, out=print):
    check_version(con.port, con.command("version"))
    before = con.command("show config")
    if not args.broker and not before.get("broker"):
        raise CliError("the kiosk on %s has no broker yet: give --broker mqtt://host:port"
                       % con.port)
    check_pending(con, before, args)
    dev, secret, buttons = register(args)
    if not args.secret:
        out("registered kiosk %s at site %s (with Mosquitto: rerun `borne broker-config` "
            "and reload the broker)" % (dev, args.site))
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
    out("configuration written and read back: device %s, site %s, broker %s%s"
        % (dev, shown.get("site"), shown.get("broker"),
           ", wifi " + shown["wifi_ssid"] if shown.get("wifi_ssid") else ""))
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


def check_pending(con, before, args):
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


def wait_status(con, wait_online, old_boot):
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


def run(args):
    check_args(args)
    try:
        with KioskConsole(args.port, timeout=args.timeout) as con:
            provision(con, args)
    except ConsoleError as e:
        raise CliError(str(e)) from None
