"""`borne firmware rollout|stop|status`: offer a signed release to a cohort
of kiosks, stop it, and show each kiosk's version and update state.

A cohort is a share of all trusted kiosks (the same kiosks for the same
release and share, chosen by a hash of the kiosk id and the release id), a
site, or a list of kiosk ids. The cohort is fixed when the rollout starts.
The server publishes the offer (retained) to each kiosk of an active
rollout, serves the chunks they fetch, and stops the rollout once the share
of its kiosks whose update failed, was refused or rolled back passes
--max-failed: the offers are then withdrawn, and a kiosk still downloading
stops; one already running the release keeps it."""
from __future__ import annotations

import argparse
import hashlib
import json
from typing import Any

from sync_server.devices import release
from sync_server.errors import CliError
from sync_server.storage import firmware_updates, registry
from sync_server.storage.connection import connect, transaction, utc_text


def cohort(conn: Any, rid: str, share: float | None = None, site: str | None = None,
           kiosks: list[str] | None = None) -> list[str]:
    """The trusted kiosks a rollout of release `rid` goes to."""
    trusted = [k["id"] for k in registry.list_kiosks(conn) if k.get("revoked_ms") is None]
    if kiosks is not None:
        unknown = sorted(set(kiosks) - set(trusted))
        if unknown:
            raise CliError("not trusted kiosks: %s (see `borne kiosk list`)" % ", ".join(unknown))
        return sorted(set(kiosks))
    if site is not None:
        registry.get_site(conn, site)  # raises for an unknown site
        return sorted(k["id"] for k in registry.list_kiosks(conn, site)
                      if k.get("revoked_ms") is None)
    assert share is not None
    if not 0 < share <= 1:
        raise CliError("--share must be in ]0, 1]")

    def rank(dev: str) -> int:
        return int.from_bytes(hashlib.sha256((rid + "/" + dev).encode()).digest()[:8], "big")
    ordered = sorted(trusted, key=rank)
    return sorted(ordered[:max(1, round(share * len(ordered)))] if ordered else [])


def start(db: str, folder: str, share: float | None, site: str | None,
          kiosks: list[str] | None, max_failed: float, boots: int, trial_s: int) -> dict:
    rel = release.load(folder)
    if not 0 <= max_failed < 1:
        raise CliError("--max-failed must be in [0, 1[")
    if not 1 <= boots <= 20 or not 10 <= trial_s <= 86400:
        raise CliError("--boots must be in 1..20 and --trial-s in 10..86400")
    conn = connect(db)
    try:
        with transaction(conn):
            devices = cohort(conn, rel.id, share, site, kiosks)
            if not devices:
                raise CliError("the cohort holds no kiosk")
            firmware_updates.add_release(conn, rel.id, rel.fw, rel.manifest, rel.sig, rel.key,
                                         rel.blob)
            given = ("share %g" % share if share is not None else
                     "site %s" % site if site is not None else "kiosks " + ",".join(devices))
            rollout = firmware_updates.start_rollout(conn, rel.id, devices, given, max_failed,
                                                     boots, trial_s)
    finally:
        conn.close()
    return {"rollout": rollout, "release": rel.id, "fw": rel.fw, "kiosks": devices}


def stop(db: str, rollout: int) -> bool:
    conn = connect(db)
    try:
        with transaction(conn):
            return firmware_updates.stop_rollout(conn, rollout, "stopped by hand")
    finally:
        conn.close()


def status(db: str, site: str | None = None) -> dict[str, list[dict]]:
    conn = connect(db)
    try:
        return {"rollouts": firmware_updates.rollouts(conn),
                "kiosks": firmware_updates.kiosk_states(conn, site)}
    finally:
        conn.close()


def cmd_rollout(args: argparse.Namespace) -> None:
    kiosks = [k for k in args.kiosks.split(",") if k] if args.kiosks else None
    r = start(args.db, args.release, args.share, args.site, kiosks, args.max_failed,
              args.boots, args.trial_s)
    print("rollout %d: release %s (firmware %s) offered to %d kiosk(s)"
          % (r["rollout"], r["release"], r["fw"], len(r["kiosks"])))


def cmd_stop(args: argparse.Namespace) -> None:
    if not stop(args.db, args.rollout):
        raise CliError("no active rollout %d" % args.rollout)
    print("rollout %d stopped: offers withdrawn" % args.rollout)


def cmd_status(args: argparse.Namespace) -> None:
    st = status(args.db, args.site)
    if args.json:
        print(json.dumps(st))
        return
    for r in st["rollouts"]:
        print("rollout %d %s: firmware %s (%s) to %s; %d kiosks, %d updated, %d failed%s" % (
            r["id"], r["state"], r["fw"], r["release_id"], r["cohort"], r["kiosks"], r["done"],
            r["failed"], "; " + r["reason"] if r["reason"] else ""))
    for k in st["kiosks"]:
        print("%s %s firmware %s %s%s%s%s" % (
            k["device_id"], k["site_id"], k["fw"] or "?", k["state"],
            " %d/%d bytes" % (k["got"], k["size"]) if k["state"] == "downloading" else "",
            " (%s)" % k["error"] if k["error"] else "",
            ", " + utc_text(k["updated_ms"]) if k["updated_ms"] else ""))


