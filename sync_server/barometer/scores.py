"""An organisation's scores for an edition, out of 100 (METHOD.md, "The
barometer"): per channel, per journey step, the composite; its category,
its rank in that category, its progress against the previous edition."""
from collections import defaultdict
from typing import Any

from sync_server.scoring import stats
from sync_server.storage import barometer as store
from sync_server.storage.organisations import band_of

CHANNELS = ("desk", "phone", "email", "letter", "social", "website", "smartphone")
STEPS = ("access", "orientation", "information", "treatment")
MIN_CHECKS = 5          # applicable mystery checks for a channel or step score
MIN_CHANNELS = 3        # channel scores for a composite
MIN_TESTS = 6           # mystery tests for a trophy
DESK_MIX = 0.5          # share of the mystery compliance in the desk score (the rest: kiosk)


def category(kind: str, population: int | None) -> str:
    """An organisation's category: its kind, with a commune's population band."""
    band = band_of(kind, population)
    return "%s/%s" % (kind, band) if band else kind


def _compliance(parts: list[tuple[float, int, int]]) -> tuple[float | None, int]:
    """(weighted compliance x 100, checks) of (weight, passes, fails) parts."""
    num = sum(w * p for w, p, _f in parts)
    den = sum(w * (p + f) for w, p, f in parts)
    n = sum(p + f for _w, p, f in parts)
    return (round(100 * num / den, 1) if den and n >= MIN_CHECKS else None), n


def org_scores(mystery: list[tuple], levels: list[tuple]) -> dict[str, tuple[float | None, int]]:
    """{dimension: (score, n)} of one organisation from its rows of
    `store.mystery_checks` (without org_id) and `store.level_counts`."""
    by_channel: defaultdict[str, list] = defaultdict(list)
    by_step: defaultdict[str, list] = defaultdict(list)
    for channel, step, weight, passes, fails in mystery:
        by_channel[channel].append((weight, passes, fails))
        if step:
            by_step[step].append((weight, passes, fails))
    counts: defaultdict[str, dict[tuple[int, int], int]] = defaultdict(dict)
    for source, scale, level, n in levels:
        counts[source][(scale, level)] = counts[source].get((scale, level), 0) + n
    voice = {src: stats.summary(counts[src]) for src in ("kiosk", "qr")}
    out: dict[str, tuple[float | None, int]] = {}
    for channel in CHANNELS:
        if channel == "smartphone":
            out["channel:smartphone"] = (voice["qr"]["happy_index"], voice["qr"]["n"])
            continue
        score, n = _compliance(by_channel.get(channel, []))
        if channel == "desk":
            kiosk = voice["kiosk"]["happy_index"]
            if score is not None and kiosk is not None:
                score = round(DESK_MIX * score + (1 - DESK_MIX) * kiosk, 1)
            elif kiosk is not None:
                score = kiosk
            n += voice["kiosk"]["n"]
        out["channel:" + channel] = (score, n)
    for step in STEPS:
        out["step:" + step] = _compliance(by_step.get(step, []))
    scored = [s for (s, _n) in (out["channel:" + c] for c in CHANNELS) if s is not None]
    composite = round(sum(scored) / len(scored), 1) if len(scored) >= MIN_CHANNELS else None
    out["composite"] = (composite, len(scored))
    return out


def ranks(values: dict[int, float | None]) -> dict[int, int | None]:
    """Competition ranks, best first: equal scores share a rank, the next
    rank skips (1, 1, 3); no score, no rank."""
    scored = sorted((v for v in values.values() if v is not None), reverse=True)
    first: dict[float, int] = {}
    for i, v in enumerate(scored):
        first.setdefault(v, i + 1)
    return {k: (first[v] if v is not None else None) for k, v in values.items()}


def compute(conn: Any, year: int, test_from: str, test_to: str) -> dict[int, dict[str, Any]]:
    """Every registered organisation's scores, category, tests, eligibility,
    rank and progress (against the previous edition's stored composite)."""
    orgs = {o["id"]: o for o in store.registered(conn, year)}
    mystery: defaultdict[int, list] = defaultdict(list)
    for org, *row in store.mystery_checks(conn, year, test_from, test_to):
        mystery[org].append(tuple(row))
    levels: defaultdict[int, list] = defaultdict(list)
    for org, *row in store.level_counts(conn, year, test_from, test_to):
        levels[org].append(tuple(row))
    tests = store.mystery_tests(conn, year, test_from, test_to)
    before = store.scores(conn, year - 1)
    out = {}
    for org_id, org in orgs.items():
        sc = org_scores(mystery[org_id], levels[org_id])
        composite = sc["composite"][0]
        prev = before.get(org_id, {}).get("composite", (None, 0))[0]
        out[org_id] = {
            "name": org["name"], "category": category(org["kind"], org["population"]),
            "scores": sc, "composite": composite, "tests": tests.get(org_id, 0),
            "eligible": composite is not None and tests.get(org_id, 0) >= MIN_TESTS,
            "previous": prev,
            "progress": round(composite - prev, 1) if composite is not None
            and prev is not None else None}
    by_category: defaultdict[str, dict[int, float | None]] = defaultdict(dict)
    for org_id, r in out.items():
        by_category[r["category"]][org_id] = r["composite"]
    for values in by_category.values():
        for org_id, rank in ranks(values).items():
            out[org_id]["rank"] = rank
    return out
