"""One evaluation of every rule at every site: which conditions hold now,
compared with the live alerts. New conditions open an alert (one per site,
kiosk and kind: a condition that stays true never opens a second one), the
alerts whose condition ended resolve themselves, and each change queues its
messages (after the quiet hours when it falls in them).

Reads are cheap: kiosk_status, the latest vote of each online kiosk (by
primary key), the counted votes of the last window of the sites whose
figures changed within it (votes_site_time index), and the daily rollups."""
import dataclasses
import datetime
from typing import Any

from sync_server.alerts import rules
from sync_server.storage import alerts as store
from sync_server.storage import rollup
from sync_server.storage.connection import Db


@dataclasses.dataclass
class Outcome:
    opened: list[int] = dataclasses.field(default_factory=list)
    resolved: list[int] = dataclasses.field(default_factory=list)
    queued: int = 0


def _site_conditions(conn: Db, site: dict, site_rules: dict, at_ms: int,
                     active: set[str], live_spike: bool, quick: bool) -> dict[str, dict]:
    out: dict[str, dict] = {}
    r = site_rules["spike"]
    if r["enabled"] and (site["id"] in active or live_spike):
        counts = store.window_counts(conn, site["id"],
                                     at_ms - int(r["window_min"] * rules.MINUTE_MS), at_ms)
        spike = rules.spike(r, counts)
        if spike:
            out["spike"] = spike
    r = site_rules["day_low"]
    if r["enabled"] and not quick:
        low = _day_low(conn, site, r, at_ms)
        if low:
            out["day_low"] = low
    return out


def _day_low(conn: Db, site: dict, params: dict, at_ms: int) -> dict | None:
    today = datetime.date.fromisoformat(rollup.local_bucket(site["timezone"], at_ms)[0])
    weeks = int(params["weeks"])
    rows = rollup.daily_level_counts(conn, site["id"], today - datetime.timedelta(weeks * 7),
                                     today, "kiosk")
    now: dict[tuple[int, int], int] = {}
    usual: dict[tuple[int, int], int] = {}
    for day, scale, level, n in rows:
        d = datetime.date.fromisoformat(day)
        if d == today:
            now[(scale, level)] = now.get((scale, level), 0) + n
        elif d.weekday() == today.weekday():
            usual[(scale, level)] = usual.get((scale, level), 0) + n
    detail = rules.day_low(params, now, usual)
    if detail:
        detail["day"] = today.isoformat()
    return detail


def evaluate(conn: Db, at_ms: int, changed_since_ms: int | None = None) -> Outcome:
    """Evaluate every rule now; open, update and resolve alerts; queue
    their messages. Returns what changed.

    changed_since_ms: the quick evaluation run after ingest commits: only
    the spike rule, only at the sites whose figures changed since then (the
    full evaluation, on the timer, does the rest, including spikes whose
    votes left the window)."""
    quick = changed_since_ms is not None
    stored = store.list_rules(conn)
    if changed_since_ms is not None:
        changed = store.active_sites(conn, changed_since_ms)
        sites = {s["id"]: s for s in store.sites(conn, changed)}
        live = {k: a for k, a in store.live_alerts(conn, "spike").items() if k[0] in changed}
    else:
        sites = {s["id"]: s for s in store.sites(conn)}
        live = store.live_alerts(conn)
    per_site = {sid: rules.resolve(stored, sid, s["org_id"]) for sid, s in sites.items()}
    longest = max([r["spike"]["window_min"] for r in per_site.values()] or [0])
    active = store.active_sites(conn, at_ms - int(longest * rules.MINUTE_MS) - 60_000)
    found: dict[tuple[str, str, str], dict] = {}
    for sid, site in sites.items():
        live_spike = (sid, "", "spike") in live
        for kind, detail in _site_conditions(conn, site, per_site[sid], at_ms, active,
                                             live_spike, quick).items():
            found[(sid, "", kind)] = detail
    for kiosk in [] if quick else store.kiosks(conn):
        home = sites.get(kiosk["site_id"])
        if home is None:
            continue
        site_rules = per_site[home["id"]]
        last_press = None
        if site_rules["silent"]["enabled"] and kiosk["last_seen_ms"] is not None:
            last_press = store.last_press_ms(conn, kiosk["id"])
        for kind, detail in rules.kiosk_conditions(site_rules, kiosk, home, at_ms,
                                                   last_press).items():
            found[(home["id"], kiosk["id"], kind)] = detail
    opened = [(*key, detail) for key, detail in found.items() if key not in live]
    seen = [(live[key]["id"], detail) for key, detail in found.items() if key in live]
    gone = [a for key, a in live.items() if key not in found]
    out = Outcome()
    out.opened = store.apply_changes(conn, opened, seen, [a["id"] for a in gone], at_ms)
    out.resolved = [a["id"] for a in gone]
    # Messages: the opening of each new alert, the end of each resolved one
    # (sent only where its opening was).
    for event, ids in (("opened", out.opened), ("resolved", out.resolved)):
        for alert_id in ids:
            alert = store.get_alert(conn, alert_id)
            if alert is None or alert["site_id"] not in per_site:
                continue
            out.queued += queue(conn, alert, event, per_site[alert["site_id"]], at_ms)
    return out


def targets(site_rules: dict[str, Any]) -> list[tuple[str, str]]:
    notify = site_rules["notify"]
    return ([("email", a) for a in notify.get("email") or ()]
            + [("webhook", u) for u in notify.get("webhook") or ()])


def queue(conn: Db, alert: dict, event: str, site_rules: dict[str, Any], at_ms: int) -> int:
    """Queue an alert's messages, to leave when the site's quiet hours end."""
    not_before = rules.quiet_until(site_rules["quiet"], alert["timezone"] or "Europe/Paris",
                                   at_ms) or at_ms
    return store.enqueue(conn, alert["id"], event, targets(site_rules), not_before)
