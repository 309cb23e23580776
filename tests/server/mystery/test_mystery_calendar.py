"""French public holidays and working days, computed in code."""
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_server.mystery.calendar import (
    easter,
    is_working_day,
    public_holidays,
    working_days_between,
)

D = datetime.date


def test_easter_sundays_match_the_published_dates():
    known = {2000: D(2000, 4, 23), 2008: D(2008, 3, 23), 2011: D(2011, 4, 24),
             2019: D(2019, 4, 21), 2024: D(2024, 3, 31), 2025: D(2025, 4, 20),
             2026: D(2026, 4, 5), 2027: D(2027, 3, 28), 2038: D(2038, 4, 25)}
    for year, day in known.items():
        assert easter(year) == day


def test_eleven_holidays_with_the_moving_ones_from_easter():
    days = public_holidays(2025)
    assert len(days) == 11
    assert {D(2025, 4, 21), D(2025, 5, 29), D(2025, 6, 9)} <= set(days)  # Easter-based
    assert days[D(2025, 7, 14)] == "Fête nationale"
    assert len(public_holidays(2025, alsace_moselle=True)) == 13
    assert D(2025, 4, 18) in public_holidays(2025, alsace_moselle=True)  # Good Friday


def test_working_days_skip_weekends_and_holidays():
    # Wed 30 April 2025 -> Fri 9 May: 1 May and 8 May are holidays.
    assert working_days_between(D(2025, 4, 30), D(2025, 5, 9)) == 5
    assert working_days_between(D(2025, 6, 6), D(2025, 6, 10)) == 1  # Whit Monday 9 June
    assert working_days_between(D(2025, 3, 3), D(2025, 3, 3)) == 0
    assert working_days_between(D(2025, 3, 7), D(2025, 3, 8)) == 0  # Friday -> Saturday
    assert not is_working_day(D(2025, 12, 25)) and is_working_day(D(2025, 12, 24))


@settings(max_examples=200)
@given(st.dates(D(2000, 1, 1), D(2060, 1, 1)), st.integers(0, 400), st.integers(0, 400))
def test_working_days_add_up(start, a, b):
    mid = start + datetime.timedelta(days=a)
    end = mid + datetime.timedelta(days=b)
    total = working_days_between(start, end)
    assert total == working_days_between(start, mid) + working_days_between(mid, end)
    assert total <= a + b
