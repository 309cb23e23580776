"""The mystery-audit tables: criteria (mystery_criteria), tests
(mystery_tests) and their results per criterion (mystery_results)."""
from sync_server.storage.connection import Db, raw_conn, row_dicts

TEST_FIELDS = ("site_id", "at_ms", "local_time", "channel", "step", "rings", "wait_seconds",
               "answer_day", "working_days")
# Tests of a site whose local day lies in a period (arguments: site, from, to).
_IN_PERIOD = "t.site_id = ? AND substr(t.local_time, 1, 10) BETWEEN ? AND ?"


def stored_test(conn: Db, test_id: str) -> tuple | None:
    """(TEST_FIELDS values + (sorted (criterion, result) pairs,), source) of
    an imported test, else None."""
    c = raw_conn(conn)
    row = c.execute("SELECT %s, source FROM mystery_tests WHERE id = ?"
                    % ", ".join(TEST_FIELDS), (test_id,)).fetchone()
    if row is None:
        return None
    results = tuple(sorted(c.execute(
        "SELECT criterion, result FROM mystery_results WHERE test_id = ?", (test_id,))))
    return tuple(row[:-1]) + (results,), row[-1]


def save_criteria(conn: Db, criteria: dict) -> None:
    """Insert or update criteria dicts {code, label_fr, label_en, channel,
    step, weight, measure, target}."""
    raw_conn(conn).executemany(
        "INSERT INTO mystery_criteria (code, label_fr, label_en, channel, step, weight, measure,"
        " target) VALUES (:code, :label_fr, :label_en, :channel, :step, :weight, :measure,"
        " :target) ON CONFLICT (code) DO UPDATE SET label_fr = excluded.label_fr,"
        " label_en = excluded.label_en, channel = excluded.channel, step = excluded.step,"
        " weight = excluded.weight, measure = excluded.measure, target = excluded.target",
        list(criteria.values()))


def add_test(conn: Db, test: dict, now_ms: int) -> None:
    """One parsed test (TEST_FIELDS, id, auditor, note, source, results)."""
    c = raw_conn(conn)
    c.execute(
        "INSERT INTO mystery_tests (id, %s, auditor, note, source, imported_ms) VALUES (?, %s)"
        % (", ".join(TEST_FIELDS), ", ".join("?" * (len(TEST_FIELDS) + 4))),
        (test["id"],) + tuple(test[f] for f in TEST_FIELDS)
        + (test["auditor"], test["note"], test["source"], now_ms))
    c.executemany("INSERT INTO mystery_results (test_id, criterion, result) VALUES (?, ?, ?)",
                  [(test["id"], code, r) for code, r in sorted(test["results"].items())])


def tests_per_channel(conn: Db, site_id: str, from_day: str, to_day: str) -> list[tuple[str, int]]:
    return raw_conn(conn).execute(
        "SELECT channel, count(*) FROM mystery_tests t WHERE %s GROUP BY channel" % _IN_PERIOD,
        (site_id, from_day, to_day)).fetchall()


def criterion_counts(conn: Db, site_id: str, from_day: str, to_day: str) -> list[tuple]:
    """(channel, criterion, label_fr, label_en, step, weight, measure, target,
    passes, fails, na) per channel and criterion of the period."""
    return raw_conn(conn).execute(
        "SELECT t.channel, r.criterion, c.label_fr, c.label_en, c.step, c.weight, c.measure,"
        " c.target, sum(r.result = 'pass'), sum(r.result = 'fail'), sum(r.result = 'na')"
        " FROM mystery_results r JOIN mystery_tests t ON t.id = r.test_id"
        " LEFT JOIN mystery_criteria c ON c.code = r.criterion"
        " WHERE %s GROUP BY t.channel, r.criterion ORDER BY t.channel, c.step, r.criterion"
        % _IN_PERIOD, (site_id, from_day, to_day)).fetchall()


def measured_values(conn: Db, site_id: str, from_day: str, to_day: str, channel: str,
                    criterion: str, measure: str) -> list:
    """The `measure` column (rings, wait_seconds, working_days) of the
    period's tests of that channel judged on that criterion."""
    if measure not in TEST_FIELDS:
        raise ValueError("not a measure: %r" % measure)
    return [r[0] for r in raw_conn(conn).execute(
        "SELECT t.%s FROM mystery_tests t JOIN mystery_results r ON r.test_id = t.id"
        " WHERE %s AND t.channel = ? AND r.criterion = ? AND t.%s IS NOT NULL"
        % (measure, _IN_PERIOD, measure), (site_id, from_day, to_day, channel, criterion))]


def latest_tests(conn: Db, site_id: str, limit: int) -> list[dict]:
    """The site's newest tests as dicts {test_id, local_time, at_ms, channel,
    step, rings, wait_seconds, working_days, results: [(criterion, result)]}."""
    c = raw_conn(conn)
    tests = row_dicts(c.execute(
        "SELECT id AS test_id, local_time, at_ms, channel, step, rings, wait_seconds,"
        " working_days FROM mystery_tests WHERE site_id = ? ORDER BY at_ms DESC, id LIMIT ?",
        (site_id, int(limit))))
    for t in tests:
        t["results"] = c.execute("SELECT criterion, result FROM mystery_results"
                                 " WHERE test_id = ? ORDER BY criterion",
                                 (t["test_id"],)).fetchall()
    return tests


def site_checks(conn: Db, from_day: str, to_day: str) -> list[tuple]:
    """(site_id, weight, passes, fails) per site and criterion of every
    test of the period (all sites at once, for rankings)."""
    return raw_conn(conn).execute(
        "SELECT t.site_id, COALESCE(c.weight, 1.0), sum(r.result = 'pass'),"
        " sum(r.result = 'fail') FROM mystery_results r JOIN mystery_tests t ON t.id = r.test_id"
        " LEFT JOIN mystery_criteria c ON c.code = r.criterion"
        " WHERE substr(t.local_time, 1, 10) BETWEEN ? AND ? GROUP BY t.site_id, r.criterion",
        (from_day, to_day)).fetchall()
