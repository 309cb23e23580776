"""What the agents' screen shows for one site today: figures from the
rollups, kiosk health, today's QR topics, the latest mystery visits, the
staff ideas a manager answered last, the consultations running there and
the site's live alerts. QR comments are not moderated: they are shown to
managers only, never on the agents' screen (which may hang where the public
sees it)."""
import datetime
import logging

from sync_server.consultations import results as consultation_results
from sync_server.mystery import audits
from sync_server.polls import ideas
from sync_server.scoring import overview
from sync_server.scoring import report as scoring_report
from sync_server.storage import alerts as alert_store
from sync_server.storage import page_queries, registry
from sync_server.storage.access_queries import Store

log = logging.getLogger(__name__)

LOW_BATTERY_PCT = 20
BACKLOG_VOTES = 20     # pending votes on a kiosk worth telling the desk about
STALE_TELEMETRY = 3    # missed telemetry periods before a kiosk counts as offline


def site_row(db: Store, site_id: str) -> dict | None:
    """The site's id, name, time zone, telemetry period and archiving time, or None."""
    try:
        site = registry.get_site(db, site_id)
    except registry.UnknownSite:
        return None
    return {k: site[k] for k in ("id", "name", "timezone", "telemetry_s", "archived_ms")}


def kiosk_health(db: Store, site_id: str, telemetry_s: int = 300,
                 now_ms: int | None = None) -> list[dict]:
    """One dict per trusted kiosk of the site, with its problems listed."""
    now_ms = now_ms if now_ms is not None else int(
        datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
    out = []
    for kid, state, seen, battery, journal in page_queries.kiosk_status(db, site_id):
        stale = seen is not None and now_ms - seen > STALE_TELEMETRY * telemetry_s * 1000
        if seen is None and state is None:
            shown = "unknown"
        elif state == "offline" or stale:
            shown = "offline"
        else:
            shown = "online"
        problems = []
        if shown != "online":
            problems.append(shown)
        if battery is not None and battery < LOW_BATTERY_PCT:
            problems.append("battery_low")
        if journal is not None and journal > BACKLOG_VOTES:
            problems.append("backlog")
        out.append({"id": kid, "state": shown, "last_seen_ms": seen, "battery_pct": battery,
                    "journal": journal, "problems": problems})
    return out


def qr_topics(db: Store, site_id: str, day: datetime.date) -> list[tuple[str, int]]:
    """How many of the day's QR answers named each topic, most named first."""
    try:
        return overview.qr_topics(db, site_id, day, day)
    except Exception:  # a fault there must not take the screen down
        log.exception("QR topics of %s", site_id)
        return []


def latest_mystery(db: Store, site_id: str, limit: int = 3) -> list[dict]:
    try:
        return list(audits.latest(db, site_id, limit))
    except Exception:
        log.exception("latest mystery visits of %s", site_id)
        return []


def latest_ideas(db: Store, site_id: str, limit: int = 3) -> list[dict]:
    """The site's staff ideas a manager answered last (masked)."""
    try:
        return [{k: i[k] for k in ("text", "status", "reason", "answered_day", "supports")}
                for i in ideas.latest_answered(db, site_id, "fr", limit)]
    except Exception:
        log.exception("latest ideas of %s", site_id)
        return []


def consultations(db: Store, site_id: str, day: datetime.date, tz: str,
                  now_ms: int) -> list[dict]:
    try:
        return consultation_results.running_here(db, site_id, day, tz, now_ms)
    except Exception:  # a fault there must not take the screen down
        log.exception("consultations running at %s", site_id)
        return []


def day_figures(db: Store, site_id: str, day: datetime.date, shrink: bool = False,
                hourly: bool = False) -> dict:
    rep = scoring_report.satisfaction(db, site_id, day, day, shrink=shrink, compare=False,
                                      hourly=hourly)
    return rep["sources"]


def seven_days(db: Store, site_id: str, today: datetime.date, shrink: bool = False) -> dict:
    """The 7 days before today: the kiosk figures over them, and each day's
    responses and score (the morning view, before the day's first vote)."""
    first, last = today - datetime.timedelta(7), today - datetime.timedelta(1)
    per_day = {d: (n, idx) for d, n, idx in scoring_report.daily(db, site_id, first, last)}
    days = []
    for i in range(7):
        d = (first + datetime.timedelta(i)).isoformat()
        n, idx = per_day.get(d, (0, None))
        days.append({"day": d, "n": n, "happy_index": idx})
    fig = scoring_report.satisfaction(db, site_id, first, last, source="kiosk", shrink=shrink,
                                      compare=False, hourly=False)["sources"]["kiosk"]
    return {"from": first.isoformat(), "to": last.isoformat(), "kiosk": fig, "days": days}


def screen(db: Store, site_id: str, now: datetime.datetime | None = None,
           shrink: bool = False) -> dict | None:
    """Everything the screen shows, as plain data (also served as JSON)."""
    site = site_row(db, site_id)
    if site is None:
        return None
    today = scoring_report.site_today(db, site_id, now)
    week = datetime.timedelta(7)
    day = datetime.timedelta(1)
    now_ms = int((now or datetime.datetime.now(datetime.timezone.utc)).timestamp() * 1000)
    return {
        "site": site,
        "today": today.isoformat(),
        "shrinkage": shrink,
        "figures": day_figures(db, site_id, today, shrink, hourly=True),
        "yesterday": day_figures(db, site_id, today - day, shrink),
        "last_week": day_figures(db, site_id, today - week, shrink),
        "week": seven_days(db, site_id, today, shrink),
        "kiosks": kiosk_health(db, site_id, site["telemetry_s"] or 300, now_ms),
        "topics": qr_topics(db, site_id, today),
        "mystery": latest_mystery(db, site_id),
        "ideas": latest_ideas(db, site_id),
        "alerts": site_alerts(db, site_id),
        "consultations": consultations(db, site_id, today, site["timezone"] or "Europe/Paris",
                                       now_ms),
    }


def site_alerts(db: Store, site_id: str) -> list[dict]:
    """The site's open and acknowledged alerts, for the screen's banner."""
    try:
        return [{k: a[k] for k in ("kind", "state", "device_id", "opened_ms")}
                for a in alert_store.list_alerts(db, live_only=True, site_id=site_id)]
    except Exception:  # a fault there must not take the screen down
        log.exception("alerts of %s", site_id)
        return []
