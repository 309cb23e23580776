"""What the barometer reports show: an organisation's scores per channel
and journey step against its category's distribution and its trend over
the editions; the national summary; the trophies; the open-data rows."""
import statistics
from typing import Any

from sync_server.barometer import editions
from sync_server.barometer.scores import CHANNELS, STEPS
from sync_server.storage import barometer as store
from sync_server.storage.connection import Db

# The open-data CSV: one row per registered organisation (docs/BAROMETER.md).
OPEN_DATA_COLUMNS = (
    ("edition", "year of the edition"),
    ("organisation", "organisation's name"),
    ("kind", "commune, community, department, library or other"),
    ("population_band", "a commune's population band, else empty"),
    ("category", "kind, with a commune's band: what ranks compare"),
    ("mystery_tests", "mystery tests in the test period"),
    ("eligible", "1 if the organisation may receive a trophy, else 0"),
    ("composite", "mean of the channel scores, 0 to 100; empty under 3 channels"),
    ("rank", "rank by composite in the category, ties share it; empty without a composite"),
    ("progress", "composite minus the previous edition's, in points; empty if either is missing"),
) + tuple(("channel_" + c, "score of the %s channel, 0 to 100; empty when too little data" % c)
          for c in CHANNELS) + tuple(
    ("step_" + s, "score of the %s step, 0 to 100; empty when too little data" % s)
    for s in STEPS) + (("awards", "the awards received, separated by spaces"),)


def _quartiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    qs = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 \
        else [values[0]] * 3
    return {"min": min(values), "q1": qs[0], "median": qs[1], "q3": qs[2],
            "max": max(values), "n": len(values)}


def organisation(conn: Db, year: int, org_id: int) -> dict[str, Any] | None:
    """One organisation's report for a computed edition, None if it was not
    registered (or the edition not computed)."""
    ed = editions.get(conn, year)
    results = store.results(conn, year)
    mine = next((r for r in results if r["org_id"] == org_id), None)
    if mine is None:
        return None
    sc = store.scores(conn, year).get(org_id, {})
    peers = [r["composite"] for r in results
             if r["category"] == mine["category"] and r["composite"] is not None]
    trend = []
    for e in store.list_editions(conn):
        s = store.scores(conn, e["year"]).get(org_id, {}).get("composite")
        if s is not None:
            trend.append({"label": str(e["year"]), "value": s[0]})
    return {"edition": ed, "org": mine,
            "channels": [{"code": c, "value": sc.get("channel:" + c, (None, 0))[0],
                          "n": sc.get("channel:" + c, (None, 0))[1]} for c in CHANNELS],
            "steps": [{"code": s, "value": sc.get("step:" + s, (None, 0))[0],
                       "n": sc.get("step:" + s, (None, 0))[1]} for s in STEPS],
            "category": {"name": mine["category"], "peers": len(
                [r for r in results if r["category"] == mine["category"]]),
                "distribution": _quartiles(peers), "values": sorted(peers)},
            "trend": trend,
            "awards": [a for a in store.awards(conn, year) if a["org_id"] == org_id]}


def national(conn: Db, year: int, org_ids: set[int] | None = None) -> dict[str, Any]:
    """The national summary: per category, organisations, eligible ones and
    the distribution of composites; the awards; the organisations listed
    (only `org_ids` when given)."""
    ed = editions.get(conn, year)
    results = store.results(conn, year)
    cats: dict[str, list[dict]] = {}
    for r in results:
        cats.setdefault(r["category"], []).append(r)
    categories = [{"name": name, "organisations": len(rows),
                   "eligible": sum(r["eligible"] for r in rows),
                   "distribution": _quartiles([r["composite"] for r in rows
                                               if r["composite"] is not None])}
                  for name, rows in sorted(cats.items())]
    return {"edition": ed, "categories": categories, "awards": store.awards(conn, year),
            "organisations": [r for r in results if org_ids is None or r["org_id"] in org_ids]}


def open_data_rows(conn: Db, year: int) -> list[list[Any]]:
    """The open-data CSV's rows, in OPEN_DATA_COLUMNS order."""
    editions.get(conn, year)
    sc = store.scores(conn, year)
    won: dict[int, list[str]] = {}
    for a in store.awards(conn, year):
        won.setdefault(a["org_id"], []).append(a["award"])
    rows = []
    for r in store.results(conn, year):
        s = sc.get(r["org_id"], {})
        band = r["category"].split("/", 1)[1] if "/" in r["category"] else ""
        rows.append([year, r["name"], r["kind"], band, r["category"], r["tests"],
                     r["eligible"], r["composite"], r["rank"], r["progress"]]
                    + [s.get("channel:" + c, (None, 0))[0] for c in CHANNELS]
                    + [s.get("step:" + st, (None, 0))[0] for st in STEPS]
                    + [" ".join(won.get(r["org_id"], []))])
    return rows
