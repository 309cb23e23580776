"""The mystery-survey import format (docs/MYSTERY.md): one row per contact
test, checked cell by cell. `parse_tests` never stops at the first problem:
it returns every error with its line, column and reason."""
import datetime
import re
import zoneinfo

from sync_server.mystery.calendar import working_days_between
from sync_server.mystery.criteria import applies
from sync_server.mystery.table import column_letter
from sync_server.mystery.vocab import (
    CHANNELS,
    STEPS,
    channel_code,
    plain,
    result_code,
    step_code,
)

# Column -> accepted header spellings (compared without case or accents).
COLUMNS = {
    "test_id": ("test_id", "test", "id", "identifiant"),
    "site": ("site", "site_id"),
    "date": ("date",),
    "time": ("time", "heure"),
    "channel": ("channel", "canal"),
    "step": ("step", "etape"),
    "rings": ("rings", "sonneries"),
    "wait_seconds": ("wait_seconds", "attente_secondes"),
    "answer_date": ("answer_date", "date_reponse"),
    "auditor": ("auditor", "enqueteur", "auditeur"),
    "note": ("note", "notes", "commentaire"),
}
REQUIRED = ("test_id", "site", "date", "time", "channel", "step")
# Which channels a measure belongs to: a value elsewhere is a shifted column.
MEASURE_CHANNELS = {"rings": ("phone",), "wait_seconds": ("desk", "phone"),
                    "answer_date": ("email", "letter", "social")}
# A missing measure means no answer (a fail) for these; wait_seconds is
# then simply not measured.
MISSING_FAILS = ("rings", "working_days")
# Measure -> the file column it comes from.
MEASURE_COLUMNS = {"rings": "rings", "wait_seconds": "wait_seconds",
                   "working_days": "answer_date"}
LIMITS = {"rings": 200, "wait_seconds": 7 * 24 * 3600}

_HEADER = {plain(alias): name for name, aliases in COLUMNS.items() for alias in aliases}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}:\d{2}(?::\d{2})?))?$")
_FR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}:\d{2}(?::\d{2})?))?$")
_TIME = re.compile(r"^(\d{1,2})[:hH](\d{2})(?::(\d{2}))?$")


def parse_date(text: str) -> tuple[datetime.date, str | None]:
    """(date, time text or None) from YYYY-MM-DD or DD/MM/YYYY, else ValueError."""
    m = _ISO.match(text)
    if m:
        y, mo, d, t = int(m[1]), int(m[2]), int(m[3]), m[4]
    else:
        m = _FR.match(text)
        if not m:
            raise ValueError("not a date: %r (write YYYY-MM-DD or DD/MM/YYYY)" % text)
        d, mo, y, t = int(m[1]), int(m[2]), int(m[3]), m[4]
    try:
        return datetime.date(y, mo, d), t
    except ValueError:
        raise ValueError("no such date: %r" % text) from None


def parse_time(text: str) -> datetime.time:
    m = _TIME.match(text)
    if not m:
        raise ValueError("not a time: %r (write HH:MM)" % text)
    try:
        return datetime.time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        raise ValueError("no such time: %r" % text) from None


def read_header(line: int, header: list[str], criteria: dict[str, dict],
                ) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]],
                           list[tuple[int, str, str]]]:
    """({column: (index, label)}, {criterion code: (index, label)}, errors);
    a label names the column as the user wrote it, with its letter."""
    errors = []
    columns: dict[str, tuple[int, str]] = {}
    crit_cols: dict[str, tuple[int, str]] = {}
    codes = {c.upper(): c for c in criteria}
    for i, raw in enumerate(header):
        where = "%s (%s)" % (raw or "(empty)", column_letter(i))
        name = _HEADER.get(plain(raw))
        code = codes.get(raw.strip().upper())
        if name is None and code is None:
            errors.append((line, where, "unknown column %r: neither a column of the format nor "
                           "a criterion of the framework" % raw))
        elif name in columns or code in crit_cols:
            errors.append((line, where, "column %r appears twice" % raw))
        elif name is not None:
            columns[name] = (i, where)
        elif code is not None:
            if criteria[code]["measure"]:
                errors.append((line, where, "criterion %s is computed from the measure %s: "
                               "remove this column" % (code, criteria[code]["measure"])))
            crit_cols[code] = (i, where)
    for name in REQUIRED:
        if name not in columns:
            errors.append((line, "-", "missing column %r" % name))
    return columns, crit_cols, errors


def parse_tests(rows: list[tuple[int, list[str]]], criteria: dict[str, dict],
                sites: dict[str, str], now_ms: int,
                source: str) -> tuple[list[dict], list[tuple[int, str, str]]]:
    """rows: [(line, cells)] with the header first; criteria: {code: dict};
    sites: {site_id: timezone}. Returns (tests, errors)."""
    if not rows:
        return [], [(1, "-", "the file is empty")]
    columns, crit_cols, errors = read_header(rows[0][0], rows[0][1], criteria)
    if any(e[1] == "-" for e in errors):
        return [], errors
    if len(rows) == 1:
        return [], [(rows[0][0], "-", "the file has a header but no test")]
    tests: list[dict] = []
    seen: dict[str, int] = {}
    for line, cells in rows[1:]:
        test, row_errors = _parse_row(line, cells, columns, crit_cols, criteria, sites, now_ms)
        if test is not None and test["id"] in seen:
            row_errors.append((line, columns["test_id"][1],
                               "test id %r already used on line %d" % (test["id"],
                                                                        seen[test["id"]])))
        if row_errors:
            errors.extend(row_errors)
        else:
            seen[test["id"]] = line
            test["source"] = "%s:%d" % (source, line)
            tests.append(test)
    return tests, errors


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _parse_row(line, cells, columns, crit_cols, criteria, sites, now_ms):
    errors = []

    def cell(name):
        i = columns[name][0] if name in columns else len(cells)
        return cells[i].strip() if i < len(cells) else ""

    def err(name, message):
        errors.append((line, columns[name][1], message))

    test = {"id": cell("test_id"), "auditor": cell("auditor"), "note": cell("note")}
    if not test["id"]:
        err("test_id", "the test id is empty")
    elif len(test["id"]) > 64:
        err("test_id", "the test id is longer than 64 characters")
    site = cell("site")
    if not site:
        err("site", "the site is empty")
    elif site not in sites:
        err("site", "unknown site %r (see `borne site list`)" % site)
    day = clock = None
    try:
        day, time_in_date = parse_date(cell("date"))
        if time_in_date and not cell("time"):
            clock = parse_time(time_in_date)
    except ValueError as e:
        err("date", str(e))
    if clock is None and (day is not None or cell("time")):
        try:
            clock = parse_time(cell("time"))
        except ValueError as e:
            err("time", str(e) if cell("time") else "the time is empty")
    test["channel"] = channel_code(cell("channel"))
    if test["channel"] is None:
        err("channel", "unknown channel %r (one of %s)" % (cell("channel"), ", ".join(CHANNELS)))
    test["step"] = step_code(cell("step"))
    if test["step"] is None:
        err("step", "unknown journey step %r (one of %s)" % (cell("step"), ", ".join(STEPS)))
    zone = _zone(sites.get(site))
    if site in sites and zone is None:
        err("site", "site %r has an unknown time zone %r" % (site, sites[site]))
    if day is not None and clock is not None and zone is not None:
        local = datetime.datetime.combine(day, clock, zone)
        test["at_ms"] = int(local.timestamp() * 1000)
        test["local_time"] = local.strftime("%Y-%m-%d %H:%M")
        if test["at_ms"] > now_ms + 3600 * 1000:
            err("date", "the test is dated in the future: %s" % test["local_time"])
        elif day.year < 2000:
            err("date", "the date is before 2000: %s" % day.isoformat())
    test["site_id"] = site
    _parse_measures(test, cell, err, day, now_ms)
    measured = {m for m, col in MEASURE_COLUMNS.items() if col in columns}
    test["results"] = _parse_results(test, cells, crit_cols, criteria, measured, errors, line)
    return (None if errors else test), errors


def _parse_measures(test, cell, err, day, now_ms):
    for name in ("rings", "wait_seconds"):
        text = cell(name)
        test[name] = None
        if not text:
            continue
        if not text.isdigit() or int(text) > LIMITS[name]:
            err(name, "%s must be a whole number from 0 to %d, not %r"
                % (name, LIMITS[name], text))
        elif test["channel"] and test["channel"] not in MEASURE_CHANNELS[name]:
            err(name, "%s is measured on %s tests only, this one is %s"
                % (name, " and ".join(MEASURE_CHANNELS[name]), test["channel"]))
        else:
            test[name] = int(text)
    test["answer_day"] = test["working_days"] = None
    text = cell("answer_date")
    if not text:
        return
    if test["channel"] and test["channel"] not in MEASURE_CHANNELS["answer_date"]:
        err("answer_date", "answer_date is for %s tests only, this one is %s"
            % (", ".join(MEASURE_CHANNELS["answer_date"]), test["channel"]))
        return
    try:
        answered, _ = parse_date(text)
    except ValueError as e:
        err("answer_date", str(e))
        return
    today = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.timezone.utc).date()
    if answered > today + datetime.timedelta(days=1):
        err("answer_date", "the answer is dated in the future: %s" % answered.isoformat())
    elif day is not None and answered < day:
        err("answer_date", "the answer (%s) is before the test (%s)"
            % (answered.isoformat(), day.isoformat()))
    else:
        test["answer_day"] = answered.isoformat()
        if day is not None:
            test["working_days"] = working_days_between(day, answered)


def _parse_results(test, cells, crit_cols, criteria, measured, errors, line):
    results = {}
    channel = test["channel"]
    for code, (i, where) in crit_cols.items():
        text = cells[i].strip() if i < len(cells) else ""
        if not text or criteria[code]["measure"]:
            continue  # not assessed, or computed below (the header says so)
        result = result_code(text)
        if result is None:
            errors.append((line, where, "%r is not a result: write pass, fail or na "
                           "(conforme, non conforme, sans objet)" % text))
        elif channel and not applies(criteria[code], channel):
            if result != "na":
                errors.append((line, where, "criterion %s is for %s tests, this one is %s"
                               % (code, criteria[code]["channel"], channel)))
        else:
            results[code] = result
    for code, crit in criteria.items():
        if crit["measure"] not in measured or not channel or not applies(crit, channel):
            continue  # no measure, or the file does not measure it
        value = test.get(crit["measure"])
        if value is None:
            if crit["measure"] in MISSING_FAILS:
                results[code] = "fail"  # not picked up, or never answered
        else:
            results[code] = "pass" if value <= crit["target"] else "fail"
    return results
