"""The barometer's tables: editions, registrations, scores, results and
awards, and the two aggregate reads its computation needs (mystery checks
and kiosk/QR level counts per organisation over a test period)."""
import json

from sync_server.storage.connection import Db, now_ms, raw_conn, row_dicts


def add_edition(conn: Db, year: int, deadline: str, test_from: str, test_to: str) -> None:
    c = raw_conn(conn)
    if c.execute("SELECT 1 FROM barometer_editions WHERE year = ?", (year,)).fetchone():
        raise ValueError("edition %d already exists" % year)
    c.execute("INSERT INTO barometer_editions (year, registration_deadline, test_from, test_to,"
              " created_ms) VALUES (?, ?, ?, ?, ?)", (year, deadline, test_from, test_to,
                                                      now_ms()))


def edition(conn: Db, year: int) -> dict | None:
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT * FROM barometer_editions WHERE year = ?", (year,)))
    return rows[0] if rows else None


def list_editions(conn: Db) -> list[dict]:
    return row_dicts(raw_conn(conn).execute(
        "SELECT e.*, (SELECT count(*) FROM barometer_registrations r WHERE r.year = e.year)"
        " AS registered FROM barometer_editions e ORDER BY e.year"))


def register(conn: Db, year: int, org_id: int) -> bool:
    """Register an organisation; False if it already was."""
    cur = raw_conn(conn).execute(
        "INSERT OR IGNORE INTO barometer_registrations (year, org_id, registered_ms)"
        " VALUES (?, ?, ?)", (year, org_id, now_ms()))
    return cur.rowcount > 0


def registered(conn: Db, year: int) -> list[dict]:
    """The organisations registered for an edition: id, name, kind, population."""
    return row_dicts(raw_conn(conn).execute(
        "SELECT o.id, o.name, o.kind, o.population FROM barometer_registrations r"
        " JOIN organisations o ON o.id = r.org_id WHERE r.year = ? ORDER BY o.name", (year,)))


def mystery_checks(conn: Db, year: int, test_from: str, test_to: str) -> list[tuple]:
    """(org_id, channel, step, weight, passes, fails) over the test period,
    for the sites of the registered organisations."""
    return raw_conn(conn).execute(
        "SELECT s.org_id, t.channel, COALESCE(c.step, ''), COALESCE(c.weight, 1.0),"
        " sum(r.result = 'pass'), sum(r.result = 'fail')"
        " FROM barometer_registrations g JOIN sites s ON s.org_id = g.org_id"
        " JOIN mystery_tests t ON t.site_id = s.id"
        " JOIN mystery_results r ON r.test_id = t.id"
        " LEFT JOIN mystery_criteria c ON c.code = r.criterion"
        " WHERE g.year = ? AND substr(t.local_time, 1, 10) BETWEEN ? AND ?"
        " GROUP BY s.org_id, t.channel, c.step, c.weight",
        (year, test_from, test_to)).fetchall()


def mystery_tests(conn: Db, year: int, test_from: str, test_to: str) -> dict[int, int]:
    """{org_id: mystery tests in the test period} of the registered organisations."""
    return dict(raw_conn(conn).execute(
        "SELECT s.org_id, count(*) FROM barometer_registrations g"
        " JOIN sites s ON s.org_id = g.org_id JOIN mystery_tests t ON t.site_id = s.id"
        " WHERE g.year = ? AND substr(t.local_time, 1, 10) BETWEEN ? AND ?"
        " GROUP BY s.org_id", (year, test_from, test_to)).fetchall())


def level_counts(conn: Db, year: int, test_from: str, test_to: str) -> list[tuple]:
    """(org_id, source, scale, level, n) of counted kiosk and QR responses
    over the test period (rollup_daily), for the registered organisations."""
    return raw_conn(conn).execute(
        "SELECT s.org_id, d.source, d.scale, d.level, sum(d.n)"
        " FROM barometer_registrations g JOIN sites s ON s.org_id = g.org_id"
        " JOIN rollup_daily d ON d.site_id = s.id"
        " WHERE g.year = ? AND d.day BETWEEN ? AND ? AND d.filt = 0"
        " GROUP BY s.org_id, d.source, d.scale, d.level", (year, test_from, test_to)).fetchall()


def save(conn: Db, year: int, scores: list[tuple], results: list[tuple],
         awards: list[tuple]) -> None:
    """Replace an edition's computed scores, results and awards (inside the
    caller's transaction). awards: (award, org_id, score, evidence dict)."""
    c = raw_conn(conn)
    for table in ("barometer_scores", "barometer_results", "barometer_awards"):
        c.execute("DELETE FROM %s WHERE year = ?" % table, (year,))
    c.executemany("INSERT INTO barometer_scores (year, org_id, dimension, score, n)"
                  " VALUES (?, ?, ?, ?, ?)", [(year,) + s for s in scores])
    c.executemany("INSERT INTO barometer_results (year, org_id, category, tests, eligible,"
                  " rank, progress) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [(year,) + r for r in results])
    c.executemany("INSERT INTO barometer_awards (year, award, org_id, score, evidence)"
                  " VALUES (?, ?, ?, ?, ?)",
                  [(year, a, o, s, json.dumps(e, ensure_ascii=False, sort_keys=True))
                   for a, o, s, e in awards])
    c.execute("UPDATE barometer_editions SET computed_ms = ? WHERE year = ?", (now_ms(), year))


def scores(conn: Db, year: int) -> dict[int, dict[str, tuple[float | None, int]]]:
    """{org_id: {dimension: (score, n)}} of a computed edition."""
    out: dict[int, dict[str, tuple[float | None, int]]] = {}
    for org, dim, score, n in raw_conn(conn).execute(
            "SELECT org_id, dimension, score, n FROM barometer_scores WHERE year = ?", (year,)):
        out.setdefault(org, {})[dim] = (score, n)
    return out


def results(conn: Db, year: int) -> list[dict]:
    """Each registered organisation's result, with its name and composite."""
    return row_dicts(raw_conn(conn).execute(
        "SELECT r.org_id, o.name, o.kind, o.population, r.category, r.tests, r.eligible,"
        " r.rank, r.progress, s.score AS composite FROM barometer_results r"
        " JOIN organisations o ON o.id = r.org_id LEFT JOIN barometer_scores s"
        " ON s.year = r.year AND s.org_id = r.org_id AND s.dimension = 'composite'"
        " WHERE r.year = ? ORDER BY r.category, r.rank IS NULL, r.rank, o.name", (year,)))


def awards(conn: Db, year: int, award: str | None = None) -> list[dict]:
    """The awards of an edition (or one award), evidence parsed."""
    sql = ("SELECT a.award, a.org_id, o.name, a.score, a.evidence FROM barometer_awards a"
           " JOIN organisations o ON o.id = a.org_id WHERE a.year = ?")
    args: tuple = (year,)
    if award:
        sql += " AND a.award = ?"
        args += (award,)
    rows = row_dicts(raw_conn(conn).execute(sql + " ORDER BY a.award, o.name", args))
    for r in rows:
        r["evidence"] = json.loads(r["evidence"])
    return rows
