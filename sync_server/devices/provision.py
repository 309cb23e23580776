"""`borne provision`: set up a kiosk plugged in over USB serial. Registers it
in the database (or takes the credentials `borne kiosk add` printed), stages
its configuration on the console, reads the staged values back, and only
when every one is right asks the kiosk to commit them (written as new files,
then renamed): a failure or a cut cable before that leaves the kiosk as it
was. Then the firmware restarts and its status is shown. With
`--keep-identity` only the Wi-Fi, the broker and its CA change."""
import argparse
import base64
import json
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from protocol import server_wire as w
from sync_server.broker import dynsec
from sync_server.broker import tls as broker_tls
from sync_server.broker.url import parse_broker_url
from sync_server.devices import release
from sync_server.devices.console import ConsoleError, KioskConsole
from sync_server.errors import CliError
from sync_server.storage import credentials, registry
from sync_server.storage.connection import connect, transaction

# Firmware releases this server can provision: same wire protocol, same major.
FW_MAJOR = 1
Out = Callable[[str], object]


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


def check_text(option: str, value: str | None, max_bytes: int, empty: bool = False) -> None:
    """Any printable character (spaces and quotes included), at most max_bytes of UTF-8."""
    if value is None:
        return
    if not value and not empty:
        raise CliError("%s must not be empty" % option)
    if not value.isprintable():
        raise CliError("%s holds a control character: only printable characters" % option)
    if len(value.encode()) > max_bytes:
        raise CliError("%s is %d bytes long: at most %d" % (option, len(value.encode()),
                                                            max_bytes))


def check_network_args(args: argparse.Namespace) -> None:
    """--wifi, --wifi-pass, --broker and --ca, as every flow that sets them takes them."""
    if args.wifi_pass is not None and args.wifi is None:
        raise CliError("--wifi-pass needs --wifi SSID")
    if args.wifi is not None and args.wifi_pass is None:
        raise CliError("--wifi needs --wifi-pass (the Wi-Fi password; '' for an open network)")
    check_text("--wifi", args.wifi, 32)
    check_text("--wifi-pass", args.wifi_pass, 64, empty=True)
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


def check_args(args: argparse.Namespace) -> None:
    check_network_args(args)
    if args.keep_identity:
        given = [o for o, v in (("--site", args.site), ("--device-id", args.device_id),
                                ("--secret", args.secret)) if v is not None]
        if given:
            raise CliError("--keep-identity keeps the kiosk's id, secret and site: "
                           "do not give %s" % ", ".join(given))
        if args.wifi is None and args.broker is None and args.ca is None \
                and getattr(args, "fw_key", None) is None:
            raise CliError("--keep-identity changes --wifi/--wifi-pass, --broker, --ca or "
                           "--fw-key: give at least one")
        return
    if args.site is None:
        raise CliError("give --site SITE (or --keep-identity to change only the Wi-Fi "
                       "or the broker)")
    if args.secret is not None and not args.secret:
        raise CliError("--secret must not be empty")
    if args.device_id is not None and not w.valid_device_id(args.device_id):
        raise CliError("--device-id %r: use 1 to 32 letters, digits, '-' and '_'"
                       % args.device_id)
    if args.secret and not args.device_id:
        raise CliError("--secret needs --device-id")


def open_registry(path: str, needed: bool) -> sqlite3.Connection | None:
    """The database at `path`; when it does not exist, a CliError if
    `needed`, else None (never an empty database made by mistake)."""
    if not os.path.exists(path):
        if needed:
            raise CliError("database %s not found: run the command where the server's "
                           "database is, or give --db PATH (or set $BORNE_DB)" % path)
        return None
    try:
        return connect(path)
    except sqlite3.Error as e:
        raise CliError("cannot open database %s: %s" % (path, e)) from None


def value(text: str) -> str:
    """A console word: as it is when plain, else a JSON string (spaces, quotes)."""
    if text and all(c.isascii() and c.isprintable() and c not in ' "\\' for c in text):
        return text
    return json.dumps(text)


def network_settings(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """Console lines for the Wi-Fi, broker and CA given, and what they must show."""
    lines = []
    expect: dict[str, Any] = {}
    if args.ca:
        der = broker_tls.ca_der(args.ca)
        lines.append("set ca " + base64.b64encode(der).decode())
        expect["ca"] = broker_tls.fingerprint(der)
    if getattr(args, "fw_key", None):
        key = release.read_public_key(args.fw_key)
        lines.append("set fwkey " + key)
        expect["fwkey"] = key
    if args.broker:
        lines.append("set broker " + args.broker)
        expect["broker"] = args.broker
    if args.wifi is not None:
        lines.append("set wifi %s %s" % (value(args.wifi), value(args.wifi_pass)))
        expect["wifi_ssid"] = args.wifi
    return lines, expect


def identity_settings(dev: str, secret: str, site: str,
                      buttons: int | None) -> tuple[list[str], dict[str, Any]]:
    lines = ["set device " + dev, "set user " + dev, "set secret " + value(secret),
             "set site " + site]
    expect: dict[str, Any] = {"device": dev, "user": dev, "secret_set": True, "site": site}
    if buttons:
        lines.append("set buttons %d" % buttons)
        expect["buttons"] = buttons
    return lines, expect


def stage(con: KioskConsole, lines: list[str], expect: dict[str, Any]) -> None:
    """begin, every `set`, then `show staged` compared with `expect`;
    nothing is written on the kiosk yet. On any failure the staged values
    are dropped (`abort`) and a CliError says what went wrong."""
    try:
        con.command("begin")
        for line in lines:
            con.command(line)
        compare(con.port, con.command("show staged"), expect)
    except (ConsoleError, CliError) as e:
        abort(con)
        raise CliError("%s; the kiosk on %s is unchanged" % (e, con.port)) from None


def compare(port: str, shown: dict[str, Any], expect: dict[str, Any]) -> None:
    wrong = ["%s=%r (wanted %r)" % (k, shown.get(k), v)
             for k, v in sorted(expect.items()) if shown.get(k) != v]
    if wrong:
        raise CliError("the kiosk on %s did not take its configuration: %s"
                       % (port, ", ".join(wrong)))


def abort(con: KioskConsole) -> None:
    """Drop staged values if the kiosk still answers; a cut cable did it already."""
    try:
        con.command("abort", timeout=2)
    except (ConsoleError, CliError):
        pass


def commit(con: KioskConsole, expect: dict[str, Any]) -> dict[str, Any]:
    """`commit`, its answer compared with `expect`. A refusal (ConsoleError)
    leaves the kiosk's files as they were and drops the staged values; a
    CliError (no answer) leaves it unknown whether the kiosk committed."""
    try:
        shown = con.command("commit")
    except ConsoleError:
        abort(con)
        raise
    compare(con.port, shown, expect)
    return shown


def journal_pending(con: KioskConsole) -> int:
    return con.command("journal").get("pending") or 0


def check_pending(con: KioskConsole, before: dict[str, Any], dev: str | None,
                  site: str) -> None:
    """Votes still in the journal belong to the kiosk's current identity and
    site: re-provisioning it as another kiosk or for another site would send
    them under the new one. Refuse until they are delivered."""
    old_dev = before.get("device")
    if not old_dev or (dev == old_dev and before.get("site") == site):
        return
    pending = journal_pending(con)
    if pending:
        raise CliError("the kiosk on %s still holds %d vote(s) of kiosk %s (site %s) not yet "
                       "delivered: connect it to its server until its journal is empty, "
                       "then provision it again" % (con.port, pending, old_dev,
                                                    before.get("site")))


def check_given_identity(conn: sqlite3.Connection | None, con: KioskConsole,
                         before: dict[str, Any], dev: str) -> None:
    """An id the server knows goes to another device only if nothing of
    the first can clash: not while it is online (the two would knock each
    other off the broker), and not when the server holds seqs this device
    would give again (its votes would be taken for duplicates)."""
    if conn is None or before.get("device") == dev:
        return
    rec = registry.kiosk_record(conn, dev)
    if rec is None:
        return
    if rec["revoked_ms"]:
        raise CliError("kiosk %s is revoked: a revoked kiosk that still holds votes is "
                       "re-enabled with `borne kiosk recover %s --port PORT`" % (dev, dev))
    if rec["state"] == "online":
        raise CliError("kiosk %s is online on another device: one id on two devices knocks "
                       "both off the broker. Provision this device as a new kiosk, or replace "
                       "the other with `borne kiosk replace %s --port %s`" % (dev, dev, con.port))
    seq = con.command("status").get("seq") or 0
    if rec["last_seq"] > seq:
        raise CliError("the server holds votes of kiosk %s up to seq %d and this device's "
                       "next seq is %d: its votes would be taken for duplicates. Provision "
                       "it as a new kiosk, or use `borne kiosk replace %s --port %s`"
                       % (dev, rec["last_seq"], seq + 1, dev, con.port))


def provision(con: KioskConsole, args: argparse.Namespace, out: Out = print) -> dict[str, Any]:
    """A kiosk's identity, site and network on the kiosk behind `con`."""
    check_version(con.port, con.command("version"))
    before = con.command("show config")
    if args.keep_identity:
        return reconfigure(con, args, before, out)
    if not args.broker and not before.get("broker"):
        raise CliError("the kiosk on %s has no broker yet: give --broker mqtts://host:port"
                       % con.port)
    conn = open_registry(args.db, needed=not args.secret)
    try:
        if args.secret:
            dev, secret, buttons = args.device_id, args.secret, None
            check_pending(con, before, dev, args.site)
            check_given_identity(conn, con, before, dev)
        else:
            assert conn is not None
            try:
                buttons = registry.get_site(conn, args.site).get("buttons")
                dev = args.device_id or registry.next_kiosk_id(conn)
                registry.check_new_kiosk_id(conn, dev)
            except ValueError as e:
                raise CliError(str(e)) from None
            check_pending(con, before, dev, args.site)
            secret = credentials.new_secret()
        lines, expect = identity_settings(dev, secret, args.site, buttons)
        net_lines, net_expect = network_settings(args)
        lines, expect = net_lines + lines, {**expect, **net_expect}
        stage(con, lines, expect)
        if not args.secret:
            assert conn is not None  # opened as needed without --secret
            register(conn, con, args.site, dev, secret)
            out("registered kiosk %s at site %s in %s (its secret goes only to the kiosk)"
                % (dev, args.site, args.db))
            out(dynsec.tell_running(conn, dev, secret))
        try:
            shown = commit(con, expect)
        except ConsoleError as e:  # the kiosk refused: it kept its old files
            if not args.secret:
                unregister(conn, dev, out)
            raise CliError("%s; the kiosk on %s is unchanged%s" % (
                e, con.port, "" if args.secret else " and kiosk %s unregistered" % dev)) from None
        except CliError as e:  # no answer: the kiosk may have committed or not
            retry = "" if args.secret else (
                " Kiosk %s is registered: rerun with --device-id %s --secret=%s"
                % (dev, dev, secret))
            raise CliError("%s.%s" % (e, retry)) from None
        old = before.get("device")
        if conn is not None and old and old != dev:
            rec = registry.kiosk_record(conn, old)
            if rec and not rec["revoked_ms"]:
                with transaction(conn):
                    registry.revoke_kiosk(conn, old)
                out("kiosk %s revoked: this device is now kiosk %s" % (old, dev))
                out(dynsec.tell_running(conn, old, None))
    finally:
        if conn is not None:
            conn.close()
    out("configuration written and read back: " + summary(dev, shown))
    return restart(con, args.wait_online, out)


def register(conn: sqlite3.Connection | None, con: KioskConsole, site: str, dev: str,
             secret: str) -> None:
    assert conn is not None
    try:
        with transaction(conn):
            registry.add_kiosk(conn, site, dev, secret)
    except (ValueError, sqlite3.Error) as e:
        abort(con)
        raise CliError("%s; the kiosk on %s is unchanged" % (e, con.port)) from None


def unregister(conn: sqlite3.Connection | None, dev: str, out: Out) -> None:
    assert conn is not None
    with transaction(conn):
        registry.forget_unused_kiosk(conn, dev)
    out(dynsec.tell_running(conn, dev, None))


def reconfigure(con: KioskConsole, args: argparse.Namespace, before: dict[str, Any],
                out: Out) -> dict[str, Any]:
    """--keep-identity: new Wi-Fi, broker or CA; same id, secret, site and journal."""
    dev = before.get("device")
    if not dev:
        raise CliError("the kiosk on %s has no identity yet: provision it with --site "
                       "(without --keep-identity)" % con.port)
    conn = open_registry(args.db, needed=False)
    if conn is not None:
        try:
            rec = registry.kiosk_record(conn, dev)
        finally:
            conn.close()
        if rec and rec["revoked_ms"]:
            raise CliError("kiosk %s is revoked: re-enable it with `borne kiosk recover %s "
                           "--port %s`" % (dev, dev, con.port))
    lines, expect = network_settings(args)
    expect.update(device=dev, site=before.get("site"), secret_set=before.get("secret_set"))
    stage(con, lines, expect)
    try:
        shown = commit(con, expect)
    except ConsoleError as e:
        raise CliError("%s; the kiosk on %s is unchanged" % (e, con.port)) from None
    out("configuration changed, identity kept: " + summary(dev, shown))
    return restart(con, args.wait_online, out)


def summary(dev: str, shown: dict[str, Any]) -> str:
    """What the kiosk said it committed, for the technician."""
    return "device %s, site %s, broker %s%s%s" % (
        dev, shown.get("site"), shown.get("broker"),
        ", wifi " + shown["wifi_ssid"] if shown.get("wifi_ssid") else "",
        ", ca " + shown["ca"] if shown.get("ca") else "")


def restart(con: KioskConsole, wait_online: float, out: Out) -> dict[str, Any]:
    """Restart the firmware, wait for it (and its broker connection, up to
    `wait_online` seconds) and show its status."""
    boot = con.command("status").get("boot")
    con.command("reboot")
    status = wait_status(con, wait_online, boot)
    out("status: device %s, boot %s, mqtt %s, clock %s, journal %s pending, last seq %s"
        % (status.get("device"), status.get("boot"), status.get("mqtt"), status.get("clock"),
           status.get("journal"), status.get("seq")))
    if wait_online and status.get("mqtt") != "up":
        out("warning: the kiosk is not connected to the broker yet: check the Wi-Fi, the "
            "broker address and that the server runs")
    return status


def wait_status(con: KioskConsole, wait_online: float, old_boot: int | None) -> dict[str, Any]:
    """`status` once the firmware is back after its restart (a new boot
    number); with wait_online, until its broker connection is up or that
    many seconds have passed."""
    deadline = time.monotonic() + max(wait_online, 0) + con.timeout
    # A question sent while the board resets is lost: ask again soon rather
    # than spend the whole wait on it.
    attempt = min(2.0, con.timeout)
    while True:
        try:
            status = con.command("status", timeout=attempt)
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
