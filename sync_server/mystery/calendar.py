"""French public holidays and working days ("jours ouvrés": Monday to
Friday, public holidays excluded), computed in code for any year.

The eleven national holidays (Code du travail, art. L3133-1): 1 January,
Easter Monday, 1 May, 8 May, Ascension Thursday, Whit Monday, 14 July,
15 August, 1 November, 11 November, 25 December. Alsace-Moselle adds Good
Friday and 26 December (`alsace_moselle=True`)."""
import datetime
from functools import lru_cache

FIXED = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))


def easter(year: int) -> datetime.date:
    """Easter Sunday of the Gregorian calendar (anonymous algorithm, Meeus)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return datetime.date(year, month, day + 1)


@lru_cache(maxsize=256)
def public_holidays(year: int, alsace_moselle: bool = False) -> dict[datetime.date, str]:
    """{date: name} of the French public holidays of `year`."""
    sunday = easter(year)
    days = {datetime.date(year, m, d): name for (m, d), name in zip(FIXED, (
        "Jour de l'an", "Fête du Travail", "Victoire 1945", "Fête nationale",
        "Assomption", "Toussaint", "Armistice 1918", "Noël"))}
    days[sunday + datetime.timedelta(days=1)] = "Lundi de Pâques"
    days[sunday + datetime.timedelta(days=39)] = "Ascension"
    days[sunday + datetime.timedelta(days=50)] = "Lundi de Pentecôte"
    if alsace_moselle:
        days[sunday - datetime.timedelta(days=2)] = "Vendredi saint"
        days[datetime.date(year, 12, 26)] = "Saint-Étienne"
    return days


def is_working_day(day: datetime.date, alsace_moselle: bool = False) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year, alsace_moselle)


def working_days_between(start: datetime.date, end: datetime.date,
                         alsace_moselle: bool = False) -> int:
    """Working days after `start` up to and including `end`: a request sent
    on a Friday and answered the next Monday took 1 working day; answered
    the same day, 0."""
    if end < start:
        raise ValueError("end before start")
    count = 0
    day = start
    while day < end:
        day += datetime.timedelta(days=1)
        if is_working_day(day, alsace_moselle):
            count += 1
    return count
