"""The criteria framework: which criteria a mystery test judges, on which
channel and journey step, with which weight, and for timeliness criteria the
measure and its target (pass when measure <= target). The default ships in
data/mystery_criteria.csv; a user may give their own file of the same shape
(see docs/MYSTERY.md)."""
import os
import re

from sync_server.mystery.table import column_letter, read_rows
from sync_server.mystery.vocab import CHANNELS, MEASURES, STEPS, channel_code, step_code

DEFAULT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "mystery_criteria.csv")
COLUMNS = ("code", "label_fr", "label_en", "channel", "step", "weight", "measure", "target")
CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


def load(path: str | None = None) -> tuple[dict[str, dict], list[tuple[int, str, str]]]:
    """(criteria {code: dict}, errors [(line, column, message)]) from a
    criteria file; `path` None reads the default framework."""
    rows = read_rows(path or DEFAULT_FILE)
    errors = []
    if not rows:
        return {}, [(1, "-", "the criteria file is empty")]
    line, header = rows[0]
    header = [h.lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return {}, [(line, "-", "missing column(s): %s (expected: %s)"
                     % (", ".join(missing), ", ".join(COLUMNS)))]
    index = {name: header.index(name) for name in COLUMNS}
    criteria = {}
    for line, cells in rows[1:]:
        def cell(name, cells=cells):
            i = index[name]
            return cells[i] if i < len(cells) else ""

        def err(name, message, line=line):
            errors.append((line, "%s (%s)" % (name, column_letter(index[name])), message))

        code = cell("code").upper()
        if not CODE.match(code):
            err("code", "criterion code %r: use capitals, digits and _ (e.g. TEL_ACCUEIL)"
                % cell("code"))
            continue
        if code in criteria:
            err("code", "criterion %s is defined twice" % code)
            continue
        crit = {"code": code, "label_fr": cell("label_fr"), "label_en": cell("label_en")}
        for name in ("label_fr", "label_en"):
            if not crit[name]:
                err(name, "the label is empty")
        channel = cell("channel")
        crit["channel"] = "*" if channel == "*" else channel_code(channel)
        if crit["channel"] is None:
            err("channel", "unknown channel %r (one of %s, or * for all)"
                % (channel, ", ".join(CHANNELS)))
        crit["step"] = step_code(cell("step"))
        if crit["step"] is None:
            err("step", "unknown journey step %r (one of %s)" % (cell("step"), ", ".join(STEPS)))
        try:
            crit["weight"] = float(cell("weight").replace(",", ".") or "1")
            if not crit["weight"] > 0:
                raise ValueError
        except ValueError:
            err("weight", "the weight %r is not a positive number" % cell("weight"))
        measure = cell("measure").lower() or None
        crit["measure"] = measure
        crit["target"] = None
        if measure is not None and measure not in MEASURES:
            err("measure", "unknown measure %r (one of %s, or empty)"
                % (measure, ", ".join(MEASURES)))
        elif measure is not None:
            try:
                crit["target"] = float(cell("target").replace(",", "."))
                if crit["target"] < 0:
                    raise ValueError
            except ValueError:
                err("target", "a criterion with a measure needs a target, a number >= 0")
        elif cell("target"):
            err("target", "a target needs a measure")
        criteria[code] = crit
    if not criteria and not errors:
        errors.append((line, "-", "the criteria file defines no criterion"))
    return criteria, errors


def applies(criterion: dict, channel: str) -> bool:
    return criterion["channel"] in ("*", channel)
