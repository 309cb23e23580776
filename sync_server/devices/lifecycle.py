"""A kiosk's life after its first provisioning, over its serial console:
reset it to blank, decommission it, replace a broken one, recover a revoked
one that still holds votes. No vote is dropped unseen: votes still in a
journal are first given time to reach the server, and are discarded only
when the technician confirms their number (`--discard-votes N`)."""
import argparse
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sync_server.broker import dynsec
from sync_server.devices import provision as prov
from sync_server.devices.console import ConsoleError, KioskConsole
from sync_server.errors import CliError
from sync_server.storage import credentials, registry
from sync_server.storage.connection import transaction

Out = Callable[[str], object]


def settle_journal(con: KioskConsole, wait: float, discard: int | None, out: Out) -> int:
    """Give the kiosk up to `wait` seconds to deliver its pending votes;
    return how many remain, once `discard` confirms exactly that number."""
    deadline = time.monotonic() + max(wait, 0)
    pending = prov.journal_pending(con)
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = prov.journal_pending(con)
    if not pending:
        return 0
    if discard == pending:
        out("discarding %d vote(s) never delivered, as confirmed" % pending)
        return pending
    mqtt = con.command("status").get("mqtt")
    hint = ("it is connected: wait longer (--wait SECONDS)" if mqtt == "up" else
            "it is not connected to its broker: connect it (`borne provision --port %s "
            "--keep-identity --wifi ... --wifi-pass ...`) so that they are delivered"
            % con.port)
    raise CliError("the kiosk on %s still holds %d vote(s) not delivered after %gs (%s), "
                   "or give --discard-votes %d to drop them%s"
                   % (con.port, pending, wait, hint, pending,
                      "" if discard is None else " (not %d)" % discard))


def wipe(con: KioskConsole, pending: int, out: Out) -> None:
    """`wipe N` on the kiosk, then wait for it to restart blank."""
    boot = con.command("status").get("boot")
    try:
        answer = con.command("wipe %d" % pending)
    except ConsoleError as e:
        # A vote pressed (or delivered) since the count: never drop it unseen.
        raise CliError("%s: run the command again" % e) from None
    status = prov.wait_status(con, 0, boot)
    out("kiosk on %s wiped: no identity, broker, CA or config; %d vote(s) discarded; "
        "next seq %d" % (con.port, answer.get("discarded", 0), (status.get("seq") or 0) + 1))


def device_id_on(con: KioskConsole) -> str | None:
    prov.check_version(con.port, con.command("version"))
    return con.command("show config").get("device")


def reset(args: argparse.Namespace, out: Out = print) -> None:
    """`borne kiosk reset --port P`: the device back to blank; the registry is left as is."""
    with KioskConsole(args.port, timeout=args.timeout) as con:
        dev = device_id_on(con)
        wipe(con, settle_journal(con, args.wait, args.discard_votes, out), out)
    if dev:
        out("kiosk %s stays registered: `borne kiosk decommission %s` revokes it"
            % (dev, dev))


def registry_record(conn: sqlite3.Connection, dev: str) -> dict[str, Any]:
    rec = registry.kiosk_record(conn, dev)
    if rec is None:
        raise CliError("unknown kiosk %r" % dev)
    return rec


def check_device(con: KioskConsole, dev: str) -> None:
    on = device_id_on(con)
    if on != dev:
        raise CliError("the kiosk on %s is %s, not %s: plug in the right one"
                       % (con.port, on or "blank (not provisioned)", dev))


def decommission(args: argparse.Namespace, out: Out = print) -> None:
    """Votes delivered (or confirmed discarded), credentials revoked, device wiped.
    Without --port (the device is lost) only the credentials are revoked."""
    conn = prov.open_registry(args.db, needed=True)
    assert conn is not None
    try:
        rec = registry_record(conn, args.id)
        if args.port is None:
            revoke(conn, rec, out)
            out("the device itself was not wiped; if it turns up holding votes, "
                "`borne kiosk recover %s --port PORT` brings them in" % args.id)
            return
        with KioskConsole(args.port, timeout=args.timeout) as con:
            check_device(con, args.id)
            pending = settle_journal(con, args.wait, args.discard_votes, out)
            revoke(conn, rec, out)
            wipe(con, pending, out)
    finally:
        conn.close()


def revoke(conn: sqlite3.Connection, rec: dict[str, Any], out: Out) -> None:
    if rec["revoked_ms"]:
        out("kiosk %s was already revoked" % rec["id"])
        return
    with transaction(conn):
        registry.revoke_kiosk(conn, rec["id"])
    out("kiosk %s revoked (its %s stored vote(s) stay counted)"
        % (rec["id"], stored_votes(conn, rec)))
    out(dynsec.tell_running(conn, rec["id"], None))


def stored_votes(conn: sqlite3.Connection, rec: dict[str, Any]) -> int:
    return conn.execute("SELECT count(*) FROM votes WHERE device_id = ?",
                        (rec["id"],)).fetchone()[0]


def replace(args: argparse.Namespace, out: Out = print) -> None:
    """A new device at the old one's site, under a new id; the old id revoked."""
    conn = prov.open_registry(args.db, needed=True)
    assert conn is not None
    try:
        rec = registry_record(conn, args.id)
    finally:
        conn.close()
    args.site = rec["site_id"]
    args.keep_identity = False
    args.device_id = args.secret = None
    prov.check_args(args)
    with KioskConsole(args.port, timeout=args.timeout) as con:
        if device_id_on(con) == args.id:
            raise CliError("the kiosk on %s is %s itself: plug in the new device (to change "
                           "this one's Wi-Fi or broker: `borne provision --port %s "
                           "--keep-identity`)" % (con.port, args.id, con.port))
        try:
            prov.provision(con, args, out)
        except ConsoleError as e:
            raise CliError(str(e)) from None
    conn = prov.open_registry(args.db, needed=True)
    assert conn is not None
    try:
        revoke(conn, registry_record(conn, args.id), out)
    finally:
        conn.close()
    out("votes still on the old device can be brought in with `borne kiosk recover %s "
        "--port PORT`" % args.id)


def recover(args: argparse.Namespace, out: Out = print) -> None:
    """A revoked kiosk holding votes: trusted again under a new secret, so
    it delivers them; decommission it once its journal is empty."""
    conn = prov.open_registry(args.db, needed=True)
    assert conn is not None
    try:
        rec = registry_record(conn, args.id)
        if not rec["revoked_ms"]:
            raise CliError("kiosk %s is not revoked: nothing to recover" % args.id)
        with KioskConsole(args.port, timeout=args.timeout) as con:
            check_device(con, args.id)
            pending = prov.journal_pending(con)
            secret = credentials.new_secret()
            expect = {"device": args.id, "secret_set": True}
            prov.stage(con, ["set secret " + prov.value(secret)], expect)
            with transaction(conn):
                registry.reenable_kiosk(conn, args.id, secret)
            out(dynsec.tell_running(conn, args.id, secret))
            try:
                prov.commit(con, expect)
            except (ConsoleError, CliError) as e:
                with transaction(conn):
                    registry.revoke_kiosk(conn, args.id)
                out(dynsec.tell_running(conn, args.id, None))
                raise CliError("%s; the kiosk on %s is unchanged and %s revoked again"
                               % (e, con.port, args.id)) from None
            out("kiosk %s re-enabled with a new secret; it holds %d vote(s) to deliver"
                % (args.id, pending))
            status = prov.restart(con, args.wait_online, out)
            if status.get("mqtt") == "up":
                deadline = time.monotonic() + args.wait_online
                while pending and time.monotonic() < deadline:
                    time.sleep(0.5)
                    pending = prov.journal_pending(con)
                out("journal: %d vote(s) still to deliver%s" % (
                    pending, "" if pending else "; `borne kiosk decommission %s --port %s` "
                    "now wipes it, or leave it in service" % (args.id, args.port)))
    finally:
        conn.close()
