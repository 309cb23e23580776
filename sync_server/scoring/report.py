"""Satisfaction reports read from the rollups (never from raw votes): one
site over a period with its previous period, and the ranking of all sites.
The figures themselves come from `scoring`; METHOD.md defines them."""
import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sync_server.mystery import audits
from sync_server.scoring import ranked, site_totals
from sync_server.scoring import stats as scoring
from sync_server.storage import rollup
from sync_server.storage.connection import Db
from sync_server.storage.registry import site_names, site_zones
from sync_server.storage.rollup import zone_info

log = logging.getLogger(__name__)

LEVEL_SOURCES = ("kiosk", "qr")
SOURCES = LEVEL_SOURCES + ("mystery",)
MAX_DAYS = 800
# Days a period may name: the years votes can have (PROTOCOL.md); farther
# dates would overflow the previous period's arithmetic.
FIRST_DAY, LAST_DAY = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)


class PeriodError(ValueError):
    """A bad period in a request; the message is shown to the user. `code`
    and `args_` let pages say it in French (screen_text PERIOD_ERRORS)."""

    def __init__(self, message: str, code: str, *args_: object) -> None:
        super().__init__(message)
        self.code = code
        self.args_ = args_


def parse_day(text: str, name: str) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise PeriodError("%s must be a date YYYY-MM-DD" % name, "bad_date", name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PeriodError("%s must be between %s and %s" % (name, FIRST_DAY, LAST_DAY),
                          "out_of_range", name, FIRST_DAY.year, LAST_DAY.year)
    return day


def period(from_text: str | None, to_text: str | None,
           today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """(from, to) dates from request parameters; default the 30 days to today."""
    to_day = parse_day(to_text, "to") if to_text else today
    from_day = parse_day(from_text, "from") if from_text else to_day - datetime.timedelta(29)
    if from_day > to_day:
        raise PeriodError("from must not be after to", "order")
    if (to_day - from_day).days >= MAX_DAYS:
        raise PeriodError("the period must be shorter than %d days" % MAX_DAYS, "too_long",
                          MAX_DAYS)
    return from_day, to_day


def previous(from_day: datetime.date,
             to_day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The period of the same length just before."""
    span = (to_day - from_day).days + 1
    return from_day - datetime.timedelta(span), from_day - datetime.timedelta(1)


def site_today(db: Db, site_id: str, now: datetime.datetime | None = None) -> datetime.date:
    """Today's date in the site's time zone."""
    tz = zone_info(site_zones(db, [site_id])[site_id])
    return (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(tz).date()


def level_counts(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                 sources: Sequence[str] = LEVEL_SOURCES, hourly: bool = True) -> list[tuple]:
    """Rows (source, hour, scale, level, filt, n) summed over the days; hour
    is None when `hourly` is false (read from the smaller daily table)."""
    return rollup.site_level_counts(db, site_id, from_day, to_day, sources, hourly)


def source_figures(rows: Iterable[tuple], source: str, hourly: bool = True) -> dict[str, Any]:
    """The report of one level source from `level_counts` rows."""
    counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    filtered = 0
    per_hour: defaultdict[int | None, defaultdict[tuple[int, int], int]] = defaultdict(
        lambda: defaultdict(int))
    for src, hour, scale, level, filt, n in rows:
        if src != source:
            continue
        if filt:
            filtered += n
            continue
        counts[(scale, level)] += n
        per_hour[hour][(scale, level)] += n
    out = scoring.summary(counts, filtered)
    by_scale: dict[str, list[int]] = {}
    for (scale, level), n in sorted(counts.items()):
        by_scale.setdefault(str(scale), [0] * scale)[level] = n
    out["counts"] = by_scale
    if hourly:
        out["hourly"] = [
            {"hour": h, "n": sum(per_hour[h].values()),
             "happy_index": scoring.summary(per_hour[h])["happy_index"]}
            for h in range(24)]
    return out


def _mystery(db, site_id, from_day, to_day):
    try:
        res = audits.results(db, site_id, from_day.isoformat(), to_day.isoformat())
    except Exception:  # a fault in that feature must not take the screen down
        log.exception("mystery results for %s", site_id)
        return {"status": "insufficient", "available": False, "score": None, "n": 0}
    passes, fails, rate = mystery_totals(res)
    out = scoring.mystery_part(passes, fails, rate)
    out.update(available=True, passes=passes, fails=fails, compliance=rate,
               tests=res.get("tests", 0), channels=res.get("channels", {}),
               timeliness=res.get("timeliness", []))
    return out


def mystery_totals(res: dict[str, Any] | None) -> tuple[int, int, float | None]:
    """Applicable checks passed and failed over every channel and criterion
    of mystery.results, and the weighted compliance rate (0..1) over them."""
    passes = fails = 0
    num = den = 0.0
    for ch in ((res or {}).get("channels") or {}).values():
        for cr in ch.get("criteria") or []:
            p, f = int(cr.get("passes") or 0), int(cr.get("fails") or 0)
            weight = float(cr.get("weight", 1.0))
            passes += p
            fails += f
            num += weight * p
            den += weight * (p + f)
    return passes, fails, (num / den if den else None)


def network_means(db: Db, from_day: datetime.date, to_day: datetime.date,
                  sources: Sequence[str] = LEVEL_SOURCES) -> dict[str, float | None]:
    """Pooled happy index of every site, per source, for shrinkage."""
    counts: defaultdict[str, defaultdict[tuple[int, int], int]] = defaultdict(
        lambda: defaultdict(int))
    for src, scale, level, n in rollup.network_level_counts(db, from_day, to_day, sources):
        counts[src][(scale, level)] += n
    return {src: scoring.happy_index(counts[src]) for src in sources}


def _apply_shrink(fig, mean):
    if fig["happy_index_raw"] is None or mean is None:
        return
    fig["shrunk"] = {"k": scoring.SHRINK_K, "network_mean": round(mean, 1),
                     "raw": fig["happy_index"]}
    if fig["happy_index"] is not None:
        fig["happy_index"] = round(scoring.shrink(fig["happy_index_raw"], fig["n"], mean), 1)


def satisfaction(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                 source: str | None = None, shrink: bool = False,
                 compare: bool = True, hourly: bool = True) -> dict[str, Any]:
    """Per source figures of one site over [from_day, to_day], with the
    previous period of the same length and the composite index; the hourly
    profile unless `hourly` is false."""
    wanted = (source,) if source else SOURCES
    level_src = tuple(s for s in wanted if s in LEVEL_SOURCES)
    rows = level_counts(db, site_id, from_day, to_day, level_src, hourly) if level_src else []
    means = network_means(db, from_day, to_day, level_src) if shrink and level_src else {}
    out: dict[str, Any] = {"site": site_id, "from": from_day.isoformat(),
                           "to": to_day.isoformat(), "shrinkage": bool(shrink), "sources": {}}
    for src in wanted:
        if src == "mystery":
            fig = _mystery(db, site_id, from_day, to_day)
        else:
            fig = source_figures(rows, src, hourly)
            if shrink:
                _apply_shrink(fig, means.get(src))
        out["sources"][src] = fig
    if source is None:
        s = out["sources"]
        out["composite"] = scoring.composite({
            "kiosk": s["kiosk"]["happy_index"],
            "qr": s["qr"]["happy_index"],
            "mystery": s["mystery"]["score"]})
    if compare:
        p_from, p_to = previous(from_day, to_day)
        prev = satisfaction(db, site_id, p_from, p_to, source, shrink, compare=False,
                            hourly=False)
        keep = ("n", "status", "happy_index", "positive_share", "score")
        out["previous"] = {
            "from": prev["from"], "to": prev["to"],
            "sources": {k: {f: v[f] for f in keep if f in v}
                        for k, v in prev["sources"].items()}}
        if "composite" in prev:
            out["previous"]["composite"] = prev["composite"]
    return out


def day_bounds_ms(db: Db, site_id: str, from_day: datetime.date,
                  to_day: datetime.date) -> tuple[int, int]:
    """UTC milliseconds [start, end) of the site's local days from..to."""
    tz = zone_info(site_zones(db, [site_id])[site_id])
    start = datetime.datetime.combine(from_day, datetime.time(0), tz)
    end = datetime.datetime.combine(to_day + datetime.timedelta(1), datetime.time(0), tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def trace_rows(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
               source: str | None = None) -> list[list]:
    """The rollup rows behind a site's figures: [day, hour, source, scale,
    level, filt, n], for checking a figure by hand (METHOD.md)."""
    sources = (source,) if source else LEVEL_SOURCES
    return rollup.hourly_rows(db, site_id, from_day, to_day, sources)


def daily(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
          source: str = "kiosk") -> list[tuple[str, int, float | None]]:
    """[(day, n, happy_index)] for each day with responses (drill-down)."""
    per_day: defaultdict[str, defaultdict[tuple[int, int], int]] = defaultdict(
        lambda: defaultdict(int))
    for day, scale, level, n in rollup.daily_level_counts(db, site_id, from_day, to_day, source):
        per_day[day][(scale, level)] += n
    return [(d, sum(c.values()), scoring.summary(c)["happy_index"])
            for d, c in sorted(per_day.items())]


def ranking(db: Db, from_day: datetime.date, to_day: datetime.date,
            source: str = "kiosk", site_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Every site (of `site_ids` when given) with its figures for one
    source, best first; sites without a score come last, in name order.
    The rows are kept for the next call (`ranked`): do not change them."""
    wanted = None if site_ids is None else tuple(sorted(site_ids))
    key = (from_day, to_day, source, wanted)
    names = site_names(db, wanted, previous=ranked.kept_names(key))
    figures = site_totals.figures(db, from_day, to_day, source, [sid for sid, _ in names])
    rows = ranked.rows(key, names, figures)
    return {"from": from_day.isoformat(), "to": to_day.isoformat(), "source": source,
            "sites": rows}
