"""Server-to-kiosk control payloads: the retained per-site config and the
time (PROTOCOL.md, "JSON messages")."""
import datetime
import functools
import zoneinfo
from typing import Any

from protocol import server_wire as w
from sync_server.storage import kiosk_answers, registry
from sync_server.storage.connection import Db

DAY_S = 86400


def _offset_min(zone, utc_s):
    dt = datetime.datetime.fromtimestamp(utc_s, datetime.timezone.utc).astimezone(zone)
    return int(dt.utcoffset().total_seconds() // 60)


@functools.lru_cache(maxsize=256)
def tz_offsets(tzname: str, day_start_s: int,
               days: int = 366) -> tuple[tuple[int, ...], ...]:
    """[[utc_s_from, offset_min], ...] for `days` from `day_start_s`: the
    offset in force at the start, then every change (found day by day, then
    to the second by bisection), so a kiosk needs no time zone database."""
    zone = zoneinfo.ZoneInfo(tzname)
    out = [[day_start_s, _offset_min(zone, day_start_s)]]
    prev = out[0][1]
    for d in range(1, days + 1):
        t = day_start_s + d * DAY_S
        off = _offset_min(zone, t)
        if off == prev:
            continue
        lo, hi = t - DAY_S, t  # offset(lo) == prev != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_min(zone, mid) == prev:
                lo = mid
            else:
                hi = mid
        out.append([hi, off])
        prev = off
    return tuple(tuple(e) for e in out)


def site_config(site: dict[str, Any], now_s: float,
                consultation: dict[str, int] | None = None) -> bytes:
    """The config message for a kiosk of `site` (as registry.get_site gives
    it); with the consultation running there (kiosk_answers.running_at_site),
    its campaign number and number of answers."""
    day = int(now_s) // DAY_S * DAY_S
    extra = {}
    if consultation:
        extra = {"campaign": consultation["id"], "answers": consultation["kiosk_answers"]}
    return w.encode_json({
        "site": site["id"],
        "buttons": site["buttons"],
        **extra,
        "lockout_s": site["lockout_s"],
        "sync_s": site["sync_s"],
        "telemetry_s": site["telemetry_s"],
        "batch": 50,
        "hours": site["hours"],
        "tz": [list(e) for e in tz_offsets(site["timezone"], day)],
    })


def config_mark(conn: Db, now_s: float) -> tuple:
    """Changes whenever some kiosk's config changes: a site edited, a kiosk
    added or revoked, a new day (the time zone table), a consultation edited,
    or one opening or closing at a site (checked each time it is called)."""
    return (registry.change_mark(conn), int(now_s) // DAY_S,
            kiosk_answers.schedule_mark(conn, int(now_s * 1000)))


def kiosk_configs(conn: Db, now_s: float) -> dict[str, bytes]:
    """{device_id: config payload} for every trusted kiosk."""
    running = kiosk_answers.running_by_site(conn, int(now_s * 1000))
    by_site = {site["id"]: site_config(site, now_s, running.get(site["id"]))
               for site in registry.list_sites(conn)}
    return {dev: by_site[site] for dev, site, _hash in registry.trusted_kiosks(conn)
            if site in by_site}


def time_message(now_ms: int) -> bytes:
    return w.encode_time(now_ms)
