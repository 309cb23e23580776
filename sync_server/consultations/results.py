"""The results of a consultation, as METHOD.md ("Public consultations")
defines them: per answer its count, its share of the counted answers and
the 95% Wilson interval of that share (`scoring.stats.wilson`), per site and
overall, for the kiosk and phone channels apart and together; the turnout
per local day of each site.

Counted: dated answers without a flag. Kept out and shown as a filtered
share: flagged kiosk rows (bursts, lockout, undatable), as satisfaction
does. Kiosk answers still waiting for their boot's time anchor are
`undated`: not counted until dated."""
import datetime
import zoneinfo
from typing import Any

from sync_server.scoring.stats import wilson
from sync_server.storage import consultations as store
from sync_server.storage.connection import Db
from sync_server.storage.rollup import local_bucket

CHANNELS = ("kiosk", "phone", "all")


def block(counts: list[int], filtered: int) -> dict[str, Any]:
    """The figures of one channel at one scope. counts: counted answers per
    answer index; filtered: answers kept out."""
    n = sum(counts)
    rows = []
    for i, k in enumerate(counts):
        interval = wilson(k, n)
        rows.append({"index": i, "count": k, "share": round(k / n, 4) if n else None,
                     "low95": round(interval[0], 4) if interval else None,
                     "high95": round(interval[1], 4) if interval else None})
    total = n + filtered
    return {"n": n, "filtered": filtered,
            "filtered_share": round(filtered / total, 4) if total else None, "answers": rows}


def compute(conn: Db, cid: int) -> dict[str, Any]:
    """Every figure of the consultation `cid` (which must exist)."""
    c = store.get(conn, cid)
    assert c is not None
    size = len(c["answers"])
    sites = store.sites_of(conn, cid)
    names = {s["id"]: s["name"] for s in sites}
    zones = {s["id"]: s["timezone"] for s in sites}
    # scope (site id or None for overall) -> channel -> ([counts], filtered)
    acc: dict[Any, dict[str, tuple[list[int], list[int]]]] = {}

    def cell(scope, channel):
        return acc.setdefault(scope, {}).setdefault(channel, ([0] * size, [0]))

    for site_id, channel, answer, clean, n in store.answer_counts(conn, cid):
        for scope in (site_id, None):
            for ch in (channel, "all"):
                counts, filtered = cell(scope, ch)
                if clean and 0 <= answer < size:
                    counts[answer] += n
                else:
                    filtered[0] += n
    for site_id in names:
        acc.setdefault(site_id, {})
    acc.setdefault(None, {})

    def blocks(scope):
        out = {}
        for ch in CHANNELS:
            counts, filtered = cell(scope, ch)
            out[ch] = block(counts, filtered[0])
        return out

    site_ids = sorted((s for s in acc if s is not None),
                      key=lambda s: (names.get(s, s), s))
    days: dict[str, dict[str, int]] = {}
    for site_id, channel, hour, n in store.hourly_counts(conn, cid):
        day = local_bucket(zones.get(site_id, ""), hour * 3600 * 1000)[0]
        row = days.setdefault(day, {"kiosk": 0, "phone": 0, "all": 0})
        row[channel] += n
        row["all"] += n
    return {
        "consultation": {k: c[k] for k in ("id", "title_fr", "title_en", "question_fr",
                                           "question_en", "state", "opens_ms", "closes_ms",
                                           "kiosk_answers")},
        "answers": c["answers"],
        "overall": blocks(None),
        "sites": [{"site_id": s, "site_name": names.get(s, s), **blocks(s)} for s in site_ids],
        "turnout": [{"day": d, **days[d]} for d in sorted(days)],
        "undated": store.undated_count(conn, cid),
    }


def running_here(conn: Db, site_id: str, day: datetime.date, tz: str,
                 at_ms: int) -> list[dict[str, Any]]:
    """What the agents' screen shows of the consultations running at the
    site: titles, questions, closing time, and the turnout (counted
    answers) of the local day `day` and since the opening, per channel."""
    start = datetime.datetime.combine(day, datetime.time(), zoneinfo.ZoneInfo(tz))
    day_ms = int(start.timestamp() * 1000)
    return [{"id": c["id"], "title": {"fr": c["title_fr"], "en": c["title_en"]},
             "question": {"fr": c["question_fr"], "en": c["question_en"]},
             "closes_ms": c["closes_ms"],
             "today": store.site_turnout(conn, c["id"], site_id, day_ms),
             "total": store.site_turnout(conn, c["id"], site_id)}
            for c in store.open_at_site(conn, site_id, at_ms)]
