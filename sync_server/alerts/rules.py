"""Alert rules: their defaults, how a scope's settings override them, and
the pure tests of each condition (no database here). METHOD.md, "Alerts",
states the same rules in prose.

Scopes, by increasing priority: the defaults below, '*' (every site),
'org:ID' (an organisation's sites), 'site:ID'. Each stores only the values
it changes; `{"enabled": false}` turns a rule off there."""
import datetime
import math
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from sync_server.scoring.stats import level_score

MINUTE_MS = 60_000
DAY_MS = 86_400_000

# kind -> default parameters. Site rules have an empty device id; kiosk
# rules name the kiosk.
DEFAULTS: dict[str, dict[str, Any]] = {
    # share of unhappy votes (the two lowest of four levels, the lowest of
    # two or three) among counted votes pressed in the last window_min.
    "spike": {"enabled": True, "window_min": 15, "share": 0.5, "min_responses": 4},
    # no status or telemetry (or an offline will) for after_min of opening hours
    "offline": {"enabled": True, "after_min": 30},
    # online, but no vote pressed for after_min of opening hours
    "silent": {"enabled": True, "after_min": 240},
    "battery": {"enabled": True, "under_pct": 20},
    "backlog": {"enabled": True, "over": 100},
    "dropped": {"enabled": True, "over": 0},
    "clock": {"enabled": True, "unknown_min": 60},
    # today's happy index far under the same weekday's over the past weeks
    "day_low": {"enabled": True, "weeks": 8, "min_today": 20, "min_usual": 60,
                "points": 15.0, "z": 2.0},
}
SITE_KINDS = ("spike", "day_low")
KIOSK_KINDS = ("offline", "silent", "battery", "backlog", "dropped", "clock")
# Not rules but set the same way, per scope: quiet hours (local "HH:MM",
# from > to spans midnight; equal: none) and who is told.
SETTINGS_DEFAULTS: dict[str, dict[str, Any]] = {
    "quiet": {"from": "", "to": ""},
    "notify": {"email": [], "webhook": []},
}
KINDS = tuple(DEFAULTS) + tuple(SETTINGS_DEFAULTS)


class RuleError(ValueError):
    """A rule setting that cannot be used; the message says why."""


def check_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params with values of the default's type, else RuleError."""
    defaults = DEFAULTS.get(kind) or SETTINGS_DEFAULTS.get(kind)
    if defaults is None:
        raise RuleError("unknown alert rule %r (known: %s)" % (kind, ", ".join(KINDS)))
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in defaults:
            raise RuleError("%s has no setting %r (known: %s)"
                            % (kind, key, ", ".join(sorted(defaults))))
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise RuleError("%s.%s must be true or false" % (kind, key))
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise RuleError("%s.%s must be a number, 0 or more" % (kind, key))
        elif isinstance(default, list):
            if isinstance(value, str):
                value = [v for v in value.split(",") if v]
            if not all(isinstance(v, str) for v in value):
                raise RuleError("%s.%s must be a list of texts" % (kind, key))
        elif key in ("from", "to") and value != "":
            parse_hhmm(value, "%s.%s" % (kind, key))
        out[key] = value
    return out


def parse_hhmm(text: Any, what: str = "time") -> int:
    """'HH:MM' -> minutes since midnight."""
    try:
        hh, mm = str(text).split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise RuleError("%s must be HH:MM, not %r" % (what, text)) from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise RuleError("%s must be HH:MM, not %r" % (what, text))
    return h * 60 + m


def resolve(stored: Iterable[Mapping[str, Any]], site_id: str,
            org_id: int | None) -> dict[str, dict[str, Any]]:
    """kind -> parameters in force at a site, from the stored rules."""
    by_scope: dict[str, dict[str, dict]] = {}
    for r in stored:
        by_scope.setdefault(r["scope"], {})[r["kind"]] = r["params"]
    out = {}
    for kind, default in {**DEFAULTS, **SETTINGS_DEFAULTS}.items():
        params = dict(default)
        for scope in ("*", "org:%s" % org_id if org_id is not None else None,
                      "site:%s" % site_id):
            params.update(by_scope.get(scope or "", {}).get(kind, {}))
        out[kind] = params
    return out


# ------------------------------------------------------------------ time

def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Paris")


def _spans(hours: Mapping[str, Any], weekday: int) -> list:
    return list(hours.get(str(weekday), ()))


def open_ms(hours: Mapping[str, Any], tz: str, from_ms: int, to_ms: int,
            max_days: int = 14) -> int:
    """Milliseconds of [from_ms, to_ms) within the site's opening hours
    (hours as in the config message; empty: always open). Looks back at most
    `max_days`."""
    from_ms = max(from_ms, to_ms - max_days * DAY_MS)
    if to_ms <= from_ms:
        return 0
    if not hours:
        return to_ms - from_ms
    zone = _zone(tz)
    day = datetime.datetime.fromtimestamp(from_ms / 1000, zone).date()
    last = datetime.datetime.fromtimestamp(to_ms / 1000, zone).date()
    total = 0
    while day <= last:
        midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=zone)
        for a, b in _spans(hours, day.weekday()):
            start = int((midnight + datetime.timedelta(minutes=a)).timestamp() * 1000)
            end = int((midnight + datetime.timedelta(minutes=b)).timestamp() * 1000)
            total += max(0, min(end, to_ms) - max(start, from_ms))
        day += datetime.timedelta(days=1)
    return total


def local_minute(tz: str, at_ms: int) -> int:
    t = datetime.datetime.fromtimestamp(at_ms / 1000, _zone(tz))
    return t.hour * 60 + t.minute


def quiet_until(quiet: Mapping[str, Any], tz: str, at_ms: int) -> int | None:
    """If `at_ms` falls in the quiet hours, the UTC ms they end; else None."""
    if not quiet.get("from") or not quiet.get("to"):
        return None
    a, b = parse_hhmm(quiet["from"]), parse_hhmm(quiet["to"])
    if a == b:
        return None
    now = local_minute(tz, at_ms)
    inside = a <= now < b if a < b else (now >= a or now < b)
    if not inside:
        return None
    wait_min = (b - now) % 1440
    # to the start of that minute: messages leave when the quiet hours end
    return (at_ms // MINUTE_MS + wait_min) * MINUTE_MS


# ------------------------------------------------------------------ conditions

def is_unhappy(level: int, scale: int) -> bool:
    """Strictly below the middle of the scale: the two lowest of four levels,
    the lowest of three or two."""
    return 2 * level < scale - 1


def spike(params: Mapping[str, Any], counts: Iterable[tuple[int, int, int]]) -> dict | None:
    """counts: (scale, level, n) of counted votes in the window. The alert's
    detail if the unhappy share reaches the threshold, else None."""
    n = unhappy = 0
    for scale, level, k in counts:
        n += k
        if is_unhappy(level, scale):
            unhappy += k
    if n < params["min_responses"] or n == 0 or unhappy / n < params["share"]:
        return None
    return {"responses": n, "unhappy": unhappy, "share": round(unhappy / n, 3),
            "window_min": params["window_min"]}


def _mean_var(counts: Mapping[tuple[int, int], int]) -> tuple[int, float, float]:
    n = sum(counts.values())
    if not n:
        return 0, 0.0, 0.0
    mean = sum(level_score(lv, sc) * k for (sc, lv), k in counts.items()) / n
    var = sum((level_score(lv, sc) - mean) ** 2 * k for (sc, lv), k in counts.items()) / n
    return n, mean, var


def day_low(params: Mapping[str, Any], today: Mapping[tuple[int, int], int],
            usual: Mapping[tuple[int, int], int]) -> dict | None:
    """today, usual: {(scale, level): n} of counted votes, today and on the
    same weekday of the past weeks. The detail if today's index is at least
    `points` under the usual one and the gap is at least `z` standard errors,
    with at least `min_today` and `min_usual` responses; else None."""
    n_t, m_t, v_t = _mean_var(today)
    n_u, m_u, v_u = _mean_var(usual)
    if n_t < params["min_today"] or n_u < params["min_usual"]:
        return None
    gap = m_u - m_t
    se = math.sqrt(v_t / n_t + v_u / n_u)
    z = gap / se if se > 0 else (math.inf if gap > 0 else 0.0)
    if gap < params["points"] or z < params["z"]:
        return None
    return {"today": round(m_t, 1), "usual": round(m_u, 1), "responses": n_t,
            "usual_responses": n_u, "gap": round(gap, 1),
            "z": round(z, 2) if math.isfinite(z) else None}


def kiosk_conditions(rules: Mapping[str, Mapping[str, Any]], kiosk: Mapping[str, Any],
                     site: Mapping[str, Any], at_ms: int,
                     last_press_ms: int | None) -> dict[str, dict]:
    """kind -> detail of the kiosk rules that hold for one kiosk now.
    kiosk: a row of storage.alerts.kiosks; site: of storage.alerts.sites."""
    out: dict[str, dict] = {}
    seen = kiosk["last_seen_ms"]
    stale_ms = 3 * (site.get("telemetry_s") or 300) * 1000
    offline = seen is not None and (kiosk["state"] == "offline" or at_ms - seen > stale_ms)
    # Opening hours are counted only once the plain elapsed time could reach the threshold.
    r = rules["offline"]
    if r["enabled"] and offline and at_ms - seen >= r["after_min"] * MINUTE_MS:
        down = open_ms(site["hours"], site["timezone"], seen, at_ms)
        if down >= r["after_min"] * MINUTE_MS:
            out["offline"] = {"since_ms": seen, "open_min": down // MINUTE_MS}
    r = rules["silent"]
    if r["enabled"] and seen is not None and not offline:
        since = last_press_ms if last_press_ms is not None else kiosk["created_ms"]
        quiet = 0
        if at_ms - since >= r["after_min"] * MINUTE_MS:
            quiet = open_ms(site["hours"], site["timezone"], since, at_ms)
        if quiet and quiet >= r["after_min"] * MINUTE_MS:
            out["silent"] = {"since_ms": since, "open_min": quiet // MINUTE_MS}
    r = rules["battery"]
    if r["enabled"] and kiosk["battery_pct"] is not None \
            and kiosk["battery_pct"] < r["under_pct"]:
        out["battery"] = {"battery_pct": kiosk["battery_pct"]}
    r = rules["backlog"]
    if r["enabled"] and kiosk["journal"] is not None and kiosk["journal"] > r["over"]:
        out["backlog"] = {"journal": kiosk["journal"]}
    r = rules["dropped"]
    if r["enabled"] and kiosk["dropped"] is not None and kiosk["dropped"] > r["over"]:
        out["dropped"] = {"dropped": kiosk["dropped"]}
    r = rules["clock"]
    if r["enabled"] and not offline and kiosk["clock"] == "unknown" \
            and (kiosk["uptime_s"] or 0) >= r["unknown_min"] * 60:
        out["clock"] = {"uptime_s": kiosk["uptime_s"]}
    return out
