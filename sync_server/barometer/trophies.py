"""The trophies of an edition and the evidence behind each (METHOD.md,
"Trophies"). Only eligible organisations compete. Ties share the award."""
from collections import defaultdict
from typing import Any

from sync_server.barometer.scores import CHANNELS, MIN_TESTS

MIN_PROGRESS = 1.0  # points: a smaller progress wins nothing
RUNNERS_UP = 2      # shown in the evidence

RULES = {
    "category": "best composite score of its category (kind, and population band for a "
                "commune), among organisations with at least %d mystery tests and 3 channels "
                "scored" % MIN_TESTS,
    "progress": "largest progress of the composite score since the previous edition "
                "(at least %.0f point), among eligible organisations scored in both" % MIN_PROGRESS,
    "channel": "best score on one contact channel, among eligible organisations with that "
               "channel scored",
}


def _best(award: str, rule: str, entries: list[tuple[int, float]],
          results: dict[int, dict[str, Any]], figure: str) -> list[tuple]:
    """The award to every entry with the best value (ties share it), with
    the evidence: the rule, the winner's figures, the runners-up."""
    if not entries:
        return []
    entries.sort(key=lambda e: (-e[1], results[e[0]]["name"]))
    top = entries[0][1]
    winners = [e for e in entries if e[1] == top]
    runners = [{"organisation": results[o]["name"], figure: v}
               for o, v in entries[len(winners):len(winners) + RUNNERS_UP]]
    out = []
    for org_id, value in winners:
        r = results[org_id]
        evidence = {
            "rule": rule, "figure": figure, "value": value, "shared_with": [
                results[o]["name"] for o, _v in winners if o != org_id],
            "category": r["category"], "composite": r["composite"], "tests": r["tests"],
            "previous": r["previous"], "progress": r["progress"],
            "scores": {k: v[0] for k, v in sorted(r["scores"].items())},
            "checks": {k: v[1] for k, v in sorted(r["scores"].items())},
            "competitors": len(entries), "runners_up": runners}
        out.append((award, org_id, value, evidence))
    return out


def awards(results: dict[int, dict[str, Any]]) -> list[tuple]:
    """(award, org_id, score, evidence) of every trophy."""
    eligible = {o: r for o, r in results.items() if r["eligible"]}
    out = []
    by_category: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
    for org_id, r in eligible.items():
        by_category[r["category"]].append((org_id, r["composite"]))
    for cat, entries in sorted(by_category.items()):
        out += _best("category:" + cat, RULES["category"], entries, results, "composite")
    progress = [(o, r["progress"]) for o, r in eligible.items()
                if r["progress"] is not None and r["progress"] >= MIN_PROGRESS]
    out += _best("progress", RULES["progress"], progress, results, "progress")
    for channel in CHANNELS:
        entries = [(o, r["scores"]["channel:" + channel][0]) for o, r in eligible.items()
                   if r["scores"]["channel:" + channel][0] is not None]
        out += _best("channel:" + channel, RULES["channel"], entries, results, "channel:" + channel)
    return out
