"""The manager's overview: every site with its composite index and each
source's score, for a period and the previous period of the same length,
with a trend mark; and what explains one site's score (its weakest mystery
criteria, its QR topics). Figures come from `report` and `scoring`;
METHOD.md defines them."""
import datetime
from collections import Counter
from collections.abc import Iterable
from typing import Any

from sync_server.scoring import report
from sync_server.scoring import stats as scoring
from sync_server.storage import mystery as mystery_store
from sync_server.storage import qr, rollup
from sync_server.storage.connection import Db

COLUMNS = ("composite", "kiosk", "qr", "mystery")
SORTS = COLUMNS + ("name",)
TREND_POINTS = 1.0  # a change smaller than this is shown as stable


def trend(now: float | None, before: float | None) -> str | None:
    """"up", "down" or "same" (within TREND_POINTS); None without both figures."""
    if now is None or before is None:
        return None
    if now - before >= TREND_POINTS:
        return "up"
    if before - now >= TREND_POINTS:
        return "down"
    return "same"


def _scores(db: Db, from_day: datetime.date, to_day: datetime.date,
            site_ids: Iterable[str] | None) -> dict[str, dict[str, Any]]:
    """{site: {"name", column: score, column + "_n": responses or checks}}."""
    out: dict[str, dict[str, Any]] = {}
    for source in report.LEVEL_SOURCES:
        for r in report.ranking(db, from_day, to_day, source, site_ids)["sites"]:
            row = out.setdefault(r["site"], {"name": r["name"]})
            row[source], row[source + "_n"] = r["happy_index"], r["n"]
    checks: dict[str, list[float]] = {}
    for sid, weight, passes, fails in mystery_store.site_checks(
            db, from_day.isoformat(), to_day.isoformat()):
        c = checks.setdefault(sid, [0, 0, 0.0, 0.0])  # passes, fails, weighted ones
        c[0] += passes
        c[1] += fails
        c[2] += weight * passes
        c[3] += weight * (passes + fails)
    for sid, row in out.items():
        p, f, num, den = checks.get(sid, (0, 0, 0.0, 0.0))
        res = scoring.mystery_part(int(p), int(f), num / den if den else None)
        row["mystery"], row["mystery_n"] = res["score"], res["n"]
        row["composite"] = scoring.composite(
            {k: row[k] for k in ("kiosk", "qr", "mystery")})["value"]
    return out


def overview(db: Db, from_day: datetime.date, to_day: datetime.date,
             site_ids: Iterable[str] | None = None, sort: str = "composite",
             descending: bool = True) -> dict[str, Any]:
    """Every site in service (of `site_ids` when given) with each column's
    score, its value over the previous period and its trend, sorted by
    `sort`; a site without a figure in that column comes last, by name."""
    if sort not in SORTS:
        raise ValueError("sort by one of %s" % ", ".join(SORTS))
    keep = None if site_ids is None else list(site_ids)
    now = _scores(db, from_day, to_day, keep)
    p_from, p_to = report.previous(from_day, to_day)
    before = _scores(db, p_from, p_to, keep)
    rows = []
    for sid, row in now.items():
        prev = before.get(sid, {})
        row["site"] = sid
        for col in COLUMNS:
            row[col + "_prev"] = prev.get(col)
            row[col + "_trend"] = trend(row[col], prev.get(col))
        rows.append(row)
    if sort == "name":
        rows.sort(key=lambda r: (r["name"], r["site"]), reverse=descending)
    else:
        rows.sort(key=lambda r: r["name"])
        rows.sort(key=lambda r: -(r[sort] or 0) if descending else (r[sort] or 0))
        rows.sort(key=lambda r: r[sort] is None)
    return {"from": from_day.isoformat(), "to": to_day.isoformat(),
            "previous": {"from": p_from.isoformat(), "to": p_to.isoformat()},
            "sort": sort, "descending": descending, "sites": rows}


def weakest_criteria(mystery: dict[str, Any]) -> list[dict[str, Any]]:
    """Every judged mystery criterion of `report.satisfaction`'s mystery
    part, weakest compliance first (then most failures), with its channel;
    `failing` when at least one check failed."""
    rows = []
    for channel, data in (mystery.get("channels") or {}).items():
        for c in data.get("criteria") or []:
            rows.append(dict(c, channel=channel, failing=bool(c.get("fails"))))
    rows.sort(key=lambda c: (c["rate"] is None, c["rate"] if c["rate"] is not None else 0,
                             -(c.get("fails") or 0), c["channel"], c["code"]))
    return rows


def qr_topics(db: Db, site_id: str, from_day: datetime.date,
              to_day: datetime.date) -> list[tuple[str, int]]:
    """How many QR answers of the period named each topic, most named first."""
    start, end = report.day_bounds_ms(db, site_id, from_day, to_day)
    counts: Counter[str] = Counter()
    for text in qr.topics_between(db, site_id, start, end):
        counts.update(t for t in text.split(",") if t)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


UNITS = ("day", "week")


def trend_points(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date,
                 unit: str = "day", source: str = "kiosk") -> list[dict[str, Any]]:
    """The happy index of each day (or each week, Monday to Sunday, the
    responses of its days in the period pooled) of the period: [{"start",
    "label", "n", "value"}], value None under the minimum sample."""
    if unit not in UNITS:
        raise ValueError("unit is day or week")
    def start_of(d: datetime.date) -> datetime.date:
        return d - datetime.timedelta(d.weekday()) if unit == "week" else d
    counts: dict[datetime.date, Counter[tuple[int, int]]] = {}
    day = start_of(from_day)
    step = datetime.timedelta(7 if unit == "week" else 1)
    while day <= to_day:
        counts[day] = Counter()
        day += step
    for text, scale, level, n in rollup.daily_level_counts(db, site_id, from_day, to_day,
                                                           source):
        counts[start_of(datetime.date.fromisoformat(text))][(scale, level)] += n
    out = []
    for start, c in counts.items():
        fig = scoring.summary(c)
        out.append({"start": start.isoformat(), "label": start.strftime("%d/%m"),
                    "n": fig["n"], "value": fig["happy_index"]})
    return out
