"""The satisfaction figures, as defined in METHOD.md. Pure functions over
counts: no database here, so each figure can be checked by hand."""
import math
from collections.abc import Mapping
from typing import Any, cast

MIN_SCORED = 10        # below this many responses no score is shown
MIN_RELIABLE = 100     # below this many the score is marked indicative
Z95 = 1.959963984540054
SHRINK_K = 30          # pseudo-responses at the network mean when shrinking
# Composite index: published weights of its three parts.
COMPOSITE_WEIGHTS = {"kiosk": 0.4, "qr": 0.3, "mystery": 0.3}
MIN_MYSTERY_CHECKS = 10  # applicable checks needed for a mystery part


def level_score(level: int, scale: int) -> float:
    """Equally spaced levels from 0 (least satisfied) to 100 (most)."""
    return 100.0 * level / (scale - 1)


def is_positive(level: int, scale: int) -> bool:
    """Positive means strictly above the middle of the scale: the top two of
    four levels, the top one of three or two."""
    return 2 * level > scale - 1


def status(n: int) -> str:
    if n < MIN_SCORED:
        return "insufficient"
    if n < MIN_RELIABLE:
        return "indicative"
    return "ok"


def wilson(x: float, n: float, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for x successes out of n, as (low, high) in 0..1."""
    if n <= 0:
        return None
    p = x / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def happy_index(counts: Mapping[tuple[int, int], int]) -> float | None:
    """Mean of the level scores. counts: {(scale, level): n}. None if empty."""
    n = sum(counts.values())
    if not n:
        return None
    return sum(level_score(lv, sc) * k for (sc, lv), k in counts.items()) / n


def shrink(value: float | None, n: int, network_mean: float | None,
           k: float = SHRINK_K) -> float | None:
    """Pull a small site's score toward the network mean: as if k extra
    responses at the mean had been given."""
    if value is None or network_mean is None:
        return value
    return (n * value + k * network_mean) / (n + k)


def summary(counts: Mapping[tuple[int, int], int], filtered: int = 0) -> dict[str, Any]:
    """The figures of one source over a period. counts: {(scale, level): n}
    of counted responses; filtered: responses kept out (bursts, closed)."""
    n = sum(counts.values())
    pos = sum(k for (sc, lv), k in counts.items() if is_positive(lv, sc))
    st = status(n)
    index = happy_index(counts)
    interval = wilson(pos, n)
    total = n + filtered
    return {
        "n": n,
        "status": st,
        # The raw mean is kept for tracing; the shown score is None when thin.
        "happy_index_raw": _round(index),
        "happy_index": _round(index) if st != "insufficient" else None,
        "positive": pos,
        "positive_share": _round(pos / n, 4) if n else None,
        # A tuple: figures of atomic values only, which the garbage
        # collector stops tracking (many are kept, `site_totals`).
        "positive_interval": (_round(interval[0], 4), _round(interval[1], 4))
        if interval else None,
        "filtered": filtered,
        "filtered_share": _round(filtered / total, 4) if total else None,
    }


def compliance(passes: int, fails: int) -> float | None:
    """Share of applicable checks passed (not applicable ones left out)."""
    n = passes + fails
    return _round(passes / n, 4) if n else None


def mystery_part(passes: int, fails: int, rate: float | None = None) -> dict[str, Any]:
    """The mystery part of the composite: compliance in 0..100 (the
    criteria-weighted rate when given), once enough checks apply."""
    n = passes + fails
    if rate is None and n:
        rate = passes / n
    enough = n >= MIN_MYSTERY_CHECKS
    return {
        "n": n,
        "status": "ok" if enough else "insufficient",
        "score": _round(100.0 * rate) if enough and rate is not None else None,
    }


def composite(parts: Mapping[str, float | None],
              weights: Mapping[str, float] = COMPOSITE_WEIGHTS) -> dict[str, Any]:
    """Weighted mean of the parts' 0..100 scores. parts: {name: score or
    None}. Any missing or thin part makes the whole insufficient: weights are
    never silently redistributed."""
    missing = sorted(k for k in weights if parts.get(k) is None)
    if missing:
        return {"status": "insufficient", "value": None, "missing": missing,
                "weights": dict(weights)}
    # No part is None here (checked above).
    value = sum(weights[k] * cast(float, parts[k]) for k in weights) / sum(weights.values())
    return {"status": "ok", "value": _round(value), "missing": [], "weights": dict(weights)}


def _round(x, digits=1):
    return None if x is None else round(x, digits)
