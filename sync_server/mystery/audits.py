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
import statistics
import time

from sync_server.mystery import criteria as mystery_criteria
from sync_server.mystery.format import parse_tests
from sync_server.mystery.table import TableError, read_rows
from sync_server.storage import rollup
from sync_server.storage.connection import raw_conn, transaction
from sync_server.storage.registry import site_zones

TEST_FIELDS = ("site_id", "at_ms", "local_time", "channel", "step", "rings", "wait_seconds",
               "answer_day", "working_days")


class ImportReport:
    def __init__(self):
        self.errors = []      # (line, column, message)
        self.new = []         # test ids imported (or to import, in a dry run)
        self.already = []     # test ids already in the database, identical
        self.dry_run = False


def import_file(db, path, criteria_path=None, dry_run=False, now_ms=None):
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
            stored = _stored(conn, test["id"])
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
        _save_criteria(conn, criteria)
        new = set(report.new)
        for test in tests:
            if test["id"] in new:
                _insert(conn, test, now_ms)
        # Open screens poll the rollup change counter: show the audits at once.
        rollup.bump(conn, {t["site_id"] for t in tests if t["id"] in new})
    return report


def _identity(test):
    return tuple(test[f] for f in TEST_FIELDS) + (tuple(sorted(test["results"].items())),)


def _stored(conn, test_id):
    row = conn.execute("SELECT %s, source FROM mystery_tests WHERE id = ?"
                       % ", ".join(TEST_FIELDS), (test_id,)).fetchone()
    if row is None:
        return None
    results = tuple(sorted(conn.execute(
        "SELECT criterion, result FROM mystery_results WHERE test_id = ?", (test_id,))))
    return tuple(row[:-1]) + (results,), row[-1]


def _save_criteria(conn, criteria):
    conn.executemany(
        "INSERT INTO mystery_criteria (code, label_fr, label_en, channel, step, weight, measure,"
        " target) VALUES (:code, :label_fr, :label_en, :channel, :step, :weight, :measure,"
        " :target) ON CONFLICT (code) DO UPDATE SET label_fr = excluded.label_fr,"
        " label_en = excluded.label_en, channel = excluded.channel, step = excluded.step,"
        " weight = excluded.weight, measure = excluded.measure, target = excluded.target",
        list(criteria.values()))


def _insert(conn, test, now_ms):
    conn.execute(
        "INSERT INTO mystery_tests (id, %s, auditor, note, source, imported_ms) VALUES (?, %s)"
        % (", ".join(TEST_FIELDS), ", ".join("?" * (len(TEST_FIELDS) + 4))),
        (test["id"],) + tuple(test[f] for f in TEST_FIELDS)
        + (test["auditor"], test["note"], test["source"], now_ms))
    conn.executemany("INSERT INTO mystery_results (test_id, criterion, result) VALUES (?, ?, ?)",
                     [(test["id"], code, r) for code, r in sorted(test["results"].items())])


def _day(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def results(db, site_id, from_day, to_day):
    conn = raw_conn(db)
    from_day, to_day = _day(from_day), _day(to_day)
    where = "t.site_id = ? AND substr(t.local_time, 1, 10) BETWEEN ? AND ?"
    args = (site_id, from_day, to_day)
    out = {"site_id": site_id, "from_day": from_day, "to_day": to_day, "tests": 0,
           "channels": {}, "timeliness": []}
    for channel, n in conn.execute(
            "SELECT channel, count(*) FROM mystery_tests t WHERE %s GROUP BY channel" % where,
            args):
        out["channels"][channel] = {"tests": n, "rate": None, "criteria": []}
        out["tests"] += n
    rows = conn.execute(
        "SELECT t.channel, r.criterion, c.label_fr, c.label_en, c.step, c.weight, c.measure,"
        " c.target, sum(r.result = 'pass'), sum(r.result = 'fail'), sum(r.result = 'na')"
        " FROM mystery_results r JOIN mystery_tests t ON t.id = r.test_id"
        " LEFT JOIN mystery_criteria c ON c.code = r.criterion"
        " WHERE %s GROUP BY t.channel, r.criterion ORDER BY t.channel, c.step, r.criterion"
        % where, args).fetchall()
    for (channel, code, label_fr, label_en, step, weight, measure, target,
         passes, fails, na) in rows:
        judged = passes + fails
        out["channels"][channel]["criteria"].append({
            "code": code, "label_fr": label_fr or code, "label_en": label_en or code,
            "step": step, "weight": weight if weight is not None else 1.0,
            "passes": passes, "fails": fails, "na": na,
            "rate": passes / judged if judged else None})
        if measure:
            values = [r[0] for r in conn.execute(
                "SELECT t.%s FROM mystery_tests t JOIN mystery_results r ON r.test_id = t.id"
                " WHERE %s AND t.channel = ? AND r.criterion = ? AND t.%s IS NOT NULL"
                % (measure, where, measure), args + (channel, code))]
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


def latest(db, site_id, limit=10):
    conn = raw_conn(db)
    tests = conn.execute(
        "SELECT id, local_time, at_ms, channel, step, rings, wait_seconds, working_days"
        " FROM mystery_tests WHERE site_id = ? ORDER BY at_ms DESC, id LIMIT ?",
        (site_id, int(limit))).fetchall()
    out = []
    for row in tests:
        item = dict(zip(("test_id", "local_time", "at_ms", "channel", "step", "rings",
                         "wait_seconds", "working_days"), row))
        res = conn.execute("SELECT criterion, result FROM mystery_results WHERE test_id = ?"
                           " ORDER BY criterion", (row[0],)).fetchall()
        item["passes"] = sum(r == "pass" for _, r in res)
        item["fails"] = sum(r == "fail" for _, r in res)
        item["na"] = sum(r == "na" for _, r in res)
        item["failed"] = [c for c, r in res if r == "fail"]
        out.append(item)
    return out
