"""`borne barometer compute`: an edition's scores, ranks and trophies,
stored in one transaction, and the explanation of an award."""
from typing import Any

from sync_server.barometer import editions, scores, trophies
from sync_server.storage import barometer as store
from sync_server.storage.connection import raw_conn, transaction


def compute(conn: Any, year: int) -> dict[str, Any]:
    """Compute and store an edition; a summary of what was stored."""
    ed = editions.get(conn, year)
    results = scores.compute(conn, year, ed["test_from"], ed["test_to"])
    rows, res = [], []
    for org_id, r in results.items():
        rows += [(org_id, dim, s, n) for dim, (s, n) in sorted(r["scores"].items())]
        res.append((org_id, r["category"], r["tests"], int(r["eligible"]), r.get("rank"),
                    r["progress"]))
    won = trophies.awards(results)
    with transaction(raw_conn(conn)):
        store.save(conn, year, rows, res, won)
    return {"year": year, "organisations": len(results),
            "eligible": sum(r["eligible"] for r in results.values()),
            "awards": [(a, results[o]["name"], s) for a, o, s, _e in won]}


def explain(conn: Any, year: int, award: str) -> list[dict]:
    """Who received an award of a computed edition, and why."""
    editions.get(conn, year)
    rows = store.awards(conn, year, award)
    if not rows:
        known = sorted({r["award"] for r in store.awards(conn, year)})
        raise ValueError("no award %r in edition %d (awards: %s)" %
                         (award, year, ", ".join(known) or "none: run compute first"))
    return rows
