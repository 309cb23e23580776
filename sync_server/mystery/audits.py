"""Mystery-survey results: importing a file of contact tests (all or
nothing, idempotent by test id) and the per-site figures the engine shows.

`results(db, site_id, from_day, to_day)` (days "YYYY-MM-DD", inclusive, in
the site's local time) returns:

    {"site_id": str, "from_day": str, "to_day": str, "tests": int,
     "channels": {channel: {
         "tests": int,
         "rate": float or None,        # weighted passes / (passes + fails), 0..1
         "criteria": [{"code", "label_fr", "label_en", "step", "weight",
                       "passes", "fails", "na",
                       "rate": float or None}]}},   # passes / (passes + fails)
     "timeliness": [{"code", "label_fr", "label_en", "channel",
                     "measure",                # rings / wait_seconds / working_days
                     "target",                 # pass when measure <= target
                     "within", "total",        # tests within target / judged
                     "rate": float or None,
                     "median": float or None}]}  # of the measured values

The default framework's timeliness criteria are calls answered within 5
rings (TEL_DECROCHE_5_SONNERIES), e-mails within 5 working days
(COURRIEL_REPONSE_5_JOURS) and letters within 15 (COURRIER_REPONSE_15_JOURS).
A phone test without rings, or an e-mail or letter without an answer date,
counts as a fail: nobody picked up, no answer came.

`latest(db, site_id, limit)` returns the newest tests, newest first:

    [{"test_id", "local_time", "at_ms", "channel", "step", "rings",
      "wait_seconds", "working_days", "passes", "fails", "na",
      "failed": [criterion codes]}]
"""
import datetime
import statistics
import time
from typing import Any

from sync_server.mystery import criteria as mystery_criteria
from sync_server.mystery.format import parse_tests
from sync_server.mystery.table import TableError, read_rows
from sync_server.storage import mystery as store
from sync_server.storage import rollup
from sync_server.storage.connection import Db, raw_conn, transaction
from sync_server.storage.mystery import TEST_FIELDS
from sync_server.storage.registry import site_zones


class ImportReport:
    def __init__(self):
        self.errors = []      # (line, column, message)
        self.new = []         # test ids imported (or to import, in a dry run)
        self.already = []     # test ids already in the database, identical
        self.dry_run = False


def import_file(db: Db, path: str, criteria_path: str | None = None, dry_run: bool = False,
                now_ms: int | None = None) -> ImportReport:
    """Validate the whole file, then import it in one transaction; nothing
    is written when any error is found. Returns an ImportReport."""
    conn = raw_conn(db)
    report = ImportReport()
    report.dry_run = dry_run
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        criteria, crit_errors = mystery_criteria.load(criteria_path)
    except TableError as e:
        report.errors.append((0, "-", "criteria file: %s" % e))
        return report
    if crit_errors:
        report.errors.extend((line, col, "criteria file: " + msg)
                             for line, col, msg in crit_errors)
        return report
    try:
        rows = read_rows(path)
    except TableError as e:
        report.errors.append((0, "-", str(e)))
        return report
    sites = site_zones(conn)
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    tests, report.errors = parse_tests(rows, criteria, sites, now_ms, name)
    if report.errors:
        return report
    with transaction(conn):
        for test in tests:
            stored = store.stored_test(conn, test["id"])
            if stored is None:
                report.new.append(test["id"])
            elif stored[0] == _identity(test):
                report.already.append(test["id"])
            else:
                report.errors.append((int(test["source"].rsplit(":", 1)[1]), "test_id",
                                      "test %r was already imported with other values (from %s);"
                                      " give the corrected test a new id"
                                      % (test["id"], stored[1])))
        if report.errors or dry_run:
            return report  # nothing written yet
        store.save_criteria(conn, criteria)
        new = set(report.new)
        for test in tests:
            if test["id"] in new:
                store.add_test(conn, test, now_ms)
        # Open screens poll the rollup change counter: show the audits at once.
        rollup.bump(conn, {t["site_id"] for t in tests if t["id"] in new})
    return report


def _identity(test):
    return tuple(test[f] for f in TEST_FIELDS) + (tuple(sorted(test["results"].items())),)


def _day(value: datetime.date | str) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def results(db: Db, site_id: str, from_day: datetime.date | str,
            to_day: datetime.date | str) -> dict[str, Any]:
    start, end = _day(from_day), _day(to_day)
    period = (site_id, start, end)
    out: dict[str, Any] = {"site_id": site_id, "from_day": start, "to_day": end, "tests": 0,
                           "channels": {}, "timeliness": []}
    for channel, n in store.tests_per_channel(db, *period):
        out["channels"][channel] = {"tests": n, "rate": None, "criteria": []}
        out["tests"] += n
    rows = store.criterion_counts(db, *period)
    for (channel, code, label_fr, label_en, step, weight, measure, target,
         passes, fails, na) in rows:
        judged = passes + fails
        out["channels"][channel]["criteria"].append({
            "code": code, "label_fr": label_fr or code, "label_en": label_en or code,
            "step": step, "weight": weight if weight is not None else 1.0,
            "passes": passes, "fails": fails, "na": na,
            "rate": passes / judged if judged else None})
        if measure:
            values = store.measured_values(db, *period, channel, code, measure)
            out["timeliness"].append({
                "code": code, "label_fr": label_fr, "label_en": label_en, "channel": channel,
                "measure": measure, "target": target, "within": passes, "total": judged,
                "rate": passes / judged if judged else None,
                "median": statistics.median(values) if values else None})
    for ch in out["channels"].values():
        num = sum(c["weight"] * c["passes"] for c in ch["criteria"])
        den = sum(c["weight"] * (c["passes"] + c["fails"]) for c in ch["criteria"])
        ch["rate"] = num / den if den else None
    return out


def latest(db: Db, site_id: str, limit: int = 10) -> list[dict]:
    out = []
    for item in store.latest_tests(db, site_id, limit):
        res = item.pop("results")
        item["passes"] = sum(r == "pass" for _, r in res)
        item["fails"] = sum(r == "fail" for _, r in res)
        item["na"] = sum(r == "na" for _, r in res)
        item["failed"] = [c for c, r in res if r == "fail"]
        out.append(item)
    return out
