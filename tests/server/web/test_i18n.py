"""The pages' texts and formats: every text has its translation, and Babel
writes numbers, shares and dates as each language does."""
import datetime
import re

from sync_server.web import i18n


def test_every_text_has_a_french_and_an_english_version():
    assert set(i18n.TEXT["fr"]) == set(i18n.TEXT["en"])
    for key, (fr, en) in i18n.TEXTS.items():
        assert fr and en, key
        if isinstance(fr, str):  # the same placeholders, in the same order
            assert re.findall(r"%[sd]", fr) == re.findall(r"%[sd]", en), key


def test_numbers_shares_and_dates_in_french_and_english():
    assert i18n.fmt_num(78.23, "fr", 1) == "78,2" and i18n.fmt_num(78.23, "en", 1) == "78.2"
    assert i18n.fmt_num(-21.8, "fr", 1) == "-21,8" and i18n.fmt_num(None, "fr") == "—"
    assert i18n.fmt_pct(0.708, "fr") == "71\u00a0%" and i18n.fmt_pct(0.708, "en") == "71%"
    day = datetime.date(2026, 11, 23)
    assert i18n.fmt_day(day, "fr") == "lundi 23 novembre 2026"
    assert i18n.fmt_day("2026-11-23", "en") == "Monday 23 November 2026"
    noon_utc = int(datetime.datetime(2026, 11, 13, 13, tzinfo=datetime.timezone.utc)
                   .timestamp() * 1000)
    assert i18n.fmt_when(noon_utc, "fr", "Europe/Paris") == "13/11 14:00"
    assert i18n.fmt_when("2026-11-13 14:00", "en") == "11/13 14:00"


def test_plurals_and_language_choice():
    assert [i18n.responses(n, "fr") for n in (0, 1, 2)] == [
        "0 réponse", "1 réponse", "2 réponses"]
    assert [i18n.responses(n, "en") for n in (0, 1, 2)] == [
        "0 responses", "1 response", "2 responses"]
    assert i18n.pick_lang("en") == "en"
    assert i18n.pick_lang("de") == i18n.pick_lang(None) == i18n.pick_lang(["en"]) == "fr"
