"""Realistic visitor traffic for the demo: presses only during opening
hours, a peak around midday and a smaller one mid-afternoon, satisfaction
that dips when the desk is busiest (waiting time).

Opening hours use the config message's format (PROTOCOL.md): weekday "0"
(Monday) .. "6" mapped to spans of local minutes since midnight."""
import datetime
import math
import random
import zoneinfo

# Share of presses per button, least satisfied first, for a calm moment.
CALM = {2: (0.15, 0.85), 3: (0.1, 0.25, 0.65), 4: (0.05, 0.1, 0.35, 0.5)}
# How much the share of the least satisfied levels grows at the busiest moment.
BUSY_PENALTY = 0.6


def busyness(minute):
    """Relative visitor rate at a local minute of the day (about 0.2 .. 1)."""
    midday = math.exp(-((minute - 690) / 70.0) ** 2 / 2)       # 11:30
    afternoon = 0.55 * math.exp(-((minute - 930) / 60.0) ** 2 / 2)  # 15:30
    return 0.2 + midday + afternoon


def is_open(hours, weekday, minute):
    if not hours:
        return True
    return any(a <= minute < b for a, b in hours.get(str(weekday), ()))


def level_weights(buttons, busy, mood=0.0):
    """Weights of each level; busy in 0..1 moves votes towards the unhappy end,
    mood (-1..1) is the site's own lean."""
    calm = CALM[buttons]
    shift = BUSY_PENALTY * busy - 0.5 * mood
    out = []
    for i, w in enumerate(calm):
        # Levels below the middle gain weight with the shift, those above lose it.
        pos = (i - (buttons - 1) / 2.0) / ((buttons - 1) / 2.0)
        out.append(max(0.01, w * (1.0 - shift * pos)))
    return out


def random_level(buttons, busy, mood=0.0, rng=random):
    weights = level_weights(buttons, busy, mood)
    return rng.choices(range(buttons), weights)[0]


def day_votes(hours, tzname, day, per_day, buttons, mood=0.0, rng=random, until_ms=None):
    """The presses of one local day (a datetime.date) at a site:
    sorted list of (utc_ms, level)."""
    tz = zoneinfo.ZoneInfo(tzname)
    spans = list(hours.get(str(day.weekday()), ())) if hours else [[0, 1440]]
    if not spans:
        return []
    # Expected presses per 5-minute slot, scaled so a full day gives `per_day`.
    slots = [(m, busyness(m)) for a, b in spans for m in range(a, b, 5)]
    total = sum(w for _, w in slots) or 1.0
    peak = max(w for _, w in slots)
    midnight = datetime.datetime(day.year, day.month, day.day, tzinfo=tz)
    out = []
    for minute, weight in slots:
        expected = per_day * weight / total
        for _ in range(_poisson(expected, rng)):
            local = midnight + datetime.timedelta(minutes=minute + rng.random() * 5)
            utc_ms = int(local.timestamp() * 1000)
            if until_ms is not None and utc_ms > until_ms:
                continue
            out.append((utc_ms, random_level(buttons, weight / peak, mood, rng)))
    out.sort()
    return out


def history(hours, tzname, days, per_day, buttons, mood=0.0, rng=random, now_ms=None):
    """Presses of the last `days` local days up to now: sorted (utc_ms, level)."""
    tz = zoneinfo.ZoneInfo(tzname)
    now = datetime.datetime.now(tz) if now_ms is None else \
        datetime.datetime.fromtimestamp(now_ms / 1000, tz)
    until = int(now.timestamp() * 1000)
    out = []
    for back in range(days, -1, -1):
        day = (now - datetime.timedelta(days=back)).date()
        out += day_votes(hours, tzname, day, per_day, buttons, mood, rng, until_ms=until)
    return out


def rate_now(hours, tzname, per_day, now=None):
    """Presses per second expected at this moment (0 when closed)."""
    tz = zoneinfo.ZoneInfo(tzname)
    now = now or datetime.datetime.now(tz)
    minute = now.hour * 60 + now.minute
    if not is_open(hours, now.weekday(), minute):
        return 0.0, 0.0
    spans = list(hours.get(str(now.weekday()), ())) if hours else [[0, 1440]]
    slots = [busyness(m) for a, b in spans for m in range(a, b, 5)]
    weight = busyness(minute)
    return per_day * weight / (sum(slots) or 1.0) / 300.0, weight / max(slots)


def _poisson(mean, rng):
    # Knuth's method: fine for the small means of a 5-minute slot.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
