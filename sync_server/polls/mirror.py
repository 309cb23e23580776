"""The mirror: for a site and a period, per quality criterion, the agents'
perception beside what citizens said and what mystery visits measured.
Every part is a share with its sample size and Wilson 95% interval
(`scoring.stats`), so that they can be set side by side:

- agents: the share of the two upper levels of the criterion's scale
  question, in the closed polls of the site whose last day falls in the
  period, adding only (poll, site) groups that the poll's results show;
- kiosk: the share of positive kiosk votes (the kiosks ask no criterion:
  the same figure stands beside every criterion);
- qr: the share of positive QR answers that named one of the criterion's
  topics;
- mystery: the compliance of the mystery checks of the criterion's journey
  step (or, for waiting time, of the checks with a waiting measure).

A gap between the agents and a citizens' part is significant when their two
intervals do not overlap (METHOD.md, "The mirror")."""
import datetime
from typing import Any

from sync_server.polls import questions, results
from sync_server.scoring import stats
from sync_server.scoring.report import day_bounds_ms
from sync_server.storage import mystery as mystery_store
from sync_server.storage import polls as q
from sync_server.storage import qr as qr_store
from sync_server.storage import rollup
from sync_server.storage.connection import Db

PARTS = ("agents", "kiosk", "qr", "mystery")
CITIZEN_PARTS = ("kiosk", "qr", "mystery")
WAIT_MEASURES = ("wait_seconds", "rings")


def share(x: int, n: int) -> dict[str, Any]:
    """x out of n as a share with its Wilson 95% interval (None when n is 0)."""
    interval = stats.wilson(x, n)
    return {"n": n, "x": x, "share": round(x / n, 4) if n else None,
            "interval": [round(interval[0], 4), round(interval[1], 4)] if interval else None}


def gap(agents: dict, other: dict) -> dict[str, Any] | None:
    """The agents' share minus another part's, and whether it is significant:
    both intervals known and apart."""
    if agents["share"] is None or other["share"] is None:
        return None
    a_lo, a_hi = agents["interval"]
    o_lo, o_hi = other["interval"]
    return {"difference": round(agents["share"] - other["share"], 4),
            "significant": a_lo > o_hi or o_lo > a_hi}


def _mystery_for(criterion: dict, rows: list[tuple]) -> tuple[int, int]:
    """(passes, fails) of the mystery rows that judge this criterion."""
    passes = fails = 0
    for _ch, _code, _fr, _en, step, _w, measure, _target, p, f, _na in rows:
        waiting = measure in WAIT_MEASURES
        if (criterion["measures"] and waiting) or (
                not criterion["measures"] and not waiting and step == criterion["step"]):
            passes += p or 0
            fails += f or 0
    return passes, fails


def mirror(db: Db, site_id: str, from_day: datetime.date, to_day: datetime.date) -> dict[str, Any]:
    polls = q.closed_since(db, site_id, from_day.isoformat(), to_day.isoformat())
    for p in polls:
        p["sites"] = q.poll_site_ids(db, p["id"])
    agents = results.criterion_counts(db, site_id, polls)
    kiosk_x = kiosk_n = 0
    for _src, _hour, scale, level, filt, n in rollup.site_level_counts(
            db, site_id, from_day, to_day, ("kiosk",), hourly=False):
        if not filt:
            kiosk_n += n
            kiosk_x += n if stats.is_positive(level, scale) else 0
    kiosk = share(kiosk_x, kiosk_n)
    start_ms, end_ms = day_bounds_ms(db, site_id, from_day, to_day)
    qr_rows = [(set(t.split(",")), level, scale)
               for t, level, scale in qr_store.topic_levels(db, site_id, start_ms, end_ms)]
    mystery_rows = mystery_store.criterion_counts(db, site_id, from_day.isoformat(),
                                                  to_day.isoformat())
    out = []
    for code, crit in questions.CRITERIA.items():
        counts = agents.get(code, [0] * questions.SCALE)
        n = sum(counts)
        pos = sum(counts[lv] for lv in range(questions.SCALE)
                  if stats.is_positive(lv, questions.SCALE))
        agent_part = dict(share(pos, n), happy_index=results.scale_summary(counts)["happy_index"])
        topical = [(lv, sc) for topics, lv, sc in qr_rows if topics & set(crit["topics"])]
        qr_part = dict(share(sum(1 for lv, sc in topical if stats.is_positive(lv, sc)),
                             len(topical)), topics=list(crit["topics"]))
        passes, fails = _mystery_for(crit, mystery_rows)
        parts = {"agents": agent_part, "kiosk": kiosk, "qr": qr_part,
                 "mystery": share(passes, passes + fails)}
        out.append({"code": code, "label_fr": crit["label_fr"], "label_en": crit["label_en"],
                    **parts, "gaps": {p: gap(agent_part, parts[p]) for p in CITIZEN_PARTS}})
    return {"site_id": site_id, "from": from_day.isoformat(), "to": to_day.isoformat(),
            "polls": [p["id"] for p in polls], "criteria": out}
