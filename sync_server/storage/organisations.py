"""Organisations and the sites they hold. A site belongs to at most one
organisation (`sites.org_id`); a site without one is seen by operators only.
Functions raise ValueError with a user-facing message on bad input."""
from sync_server.storage.connection import Db, now_ms, raw_conn, row_dicts

# Kinds of organisation: a commune (ranked within its population band), a
# community of municipalities, a departmental council, a library, other.
KINDS = ("commune", "community", "department", "library", "other")
# Population bands of communes: (code, lowest population, highest or None).
BANDS = (("under-2000", 0, 1999), ("2000-9999", 2000, 9999),
         ("10000-49999", 10000, 49999), ("50000-plus", 50000, None))


def band_of(kind: str, population: int | None) -> str | None:
    """The population band of a commune (None for other kinds, or when the
    population is not known)."""
    if kind != "commune" or population is None:
        return None
    for code, low, high in BANDS:
        if population >= low and (high is None or population <= high):
            return code
    return None


def add_org(conn: Db, name: str, kind: str, population: int | None = None) -> int:
    """A new organisation; its id."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValueError("an organisation's name is 1 to 120 characters")
    if kind not in KINDS:
        raise ValueError("organisation type %r: use one of %s" % (kind, ", ".join(KINDS)))
    if kind == "commune" and population is None:
        raise ValueError("a commune needs its population (--population N): communes are"
                         " ranked within their population band")
    if population is not None and not 0 <= population <= 100_000_000:
        raise ValueError("population must be a whole number of inhabitants")
    c = raw_conn(conn)
    if c.execute("SELECT 1 FROM organisations WHERE name = ?", (name,)).fetchone():
        raise ValueError("organisation %r already exists" % name)
    cur = c.execute("INSERT INTO organisations (name, kind, population, created_ms)"
                    " VALUES (?, ?, ?, ?)", (name, kind, population, now_ms()))
    return int(cur.lastrowid or 0)


def list_orgs(conn: Db) -> list[dict]:
    """Every organisation by name, with its band and number of sites."""
    rows = row_dicts(raw_conn(conn).execute(
        "SELECT o.id, o.name, o.kind, o.population,"
        " (SELECT count(*) FROM sites s WHERE s.org_id = o.id) AS sites"
        " FROM organisations o ORDER BY o.name"))
    for r in rows:
        r["band"] = band_of(r["kind"], r["population"])
    return rows


def org_id(conn: Db, name_or_id: str | int) -> int:
    """The id of an organisation given by name (or id); ValueError if none."""
    c = raw_conn(conn)
    row = c.execute("SELECT id FROM organisations WHERE name = ?", (str(name_or_id),)).fetchone()
    if row is None and str(name_or_id).isdigit():
        row = c.execute("SELECT id FROM organisations WHERE id = ?",
                        (int(name_or_id),)).fetchone()
    if row is None:
        raise ValueError("unknown organisation %r (`borne org list`)" % (name_or_id,))
    return int(row[0])


def set_site_org(conn: Db, site_id: str, org: int | None) -> None:
    """Give a site to an organisation (None: to none)."""
    cur = raw_conn(conn).execute("UPDATE sites SET org_id = ? WHERE id = ?", (org, site_id))
    if not cur.rowcount:
        raise ValueError("unknown site %r" % site_id)


def org_site_ids(conn: Db, org: int) -> frozenset[str]:
    """The ids of every site of an organisation, archived ones included."""
    return frozenset(r[0] for r in raw_conn(conn).execute(
        "SELECT id FROM sites WHERE org_id = ?", (org,)))
