"""Editions and registrations: an edition has a year, a registration
deadline (31 December of that year) and a test period (the year by
default); an organisation registers until the deadline."""
import datetime

from sync_server.storage import barometer as store
from sync_server.storage.connection import Db


def add(conn: Db, year: int, test_from: str | None = None, test_to: str | None = None) -> dict:
    """A new edition; its row."""
    if not 2000 <= year <= 2100:
        raise ValueError("an edition's year is between 2000 and 2100")
    start = _day(test_from, "--test-from") if test_from else datetime.date(year, 1, 1)
    end = _day(test_to, "--test-to") if test_to else datetime.date(year, 12, 31)
    if start > end:
        raise ValueError("the test period ends before it starts")
    store.add_edition(conn, year, datetime.date(year, 12, 31).isoformat(), start.isoformat(),
                      end.isoformat())
    return get(conn, year)


def get(conn: Db, year: int) -> dict:
    row = store.edition(conn, year)
    if row is None:
        raise ValueError("no edition %d (`borne barometer edition add %d`)" % (year, year))
    return row


def register(conn: Db, year: int, org_id: int, today: datetime.date | None = None) -> bool:
    """Register an organisation for an edition, until its deadline; False if
    it already was."""
    ed = get(conn, year)
    today = today or datetime.date.today()
    if today.isoformat() > ed["registration_deadline"]:
        raise ValueError("registration for edition %d closed on %s" %
                         (year, ed["registration_deadline"]))
    return store.register(conn, year, org_id)


def _day(text: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError("%s must be a date YYYY-MM-DD, not %r" % (name, text)) from None
