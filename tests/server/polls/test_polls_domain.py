"""Internal polls on a real SQLite database: the anonymity threshold (a
group of 4, of 5, a group split by a site to reach 4, and two figures that
differ by one person), one answer per device, results only once closed,
devices forgotten at closing, free answers only after moderation, masked."""
import datetime
import json

import pytest

from sync_server.polls import anonymity, lifecycle, questions, results
from sync_server.storage import polls as store
from sync_server.storage.connection import connect
from sync_server.storage.registry import add_site

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
DAY = datetime.timedelta(days=1)


@pytest.fixture
def conn(tmp_path):
    c = connect(tmp_path / "borne.db")
    for site in ("mairie", "annexe", "bibli"):
        add_site(c, site, site.title())
    return c


def make_poll(conn, sites=("mairie",), qs=None):
    qs = qs or [questions.criterion_question("welcome"),
                {"kind": "choice", "fr": "Service ?", "en": "Service?",
                 "choices": [{"fr": "Accueil", "en": "Desk"}, {"fr": "État civil",
                                                                 "en": "Registry"}]},
                questions.FREE_TEXT]
    poll_id = lifecycle.create(conn, "Baromètre interne", "Staff barometer", qs,
                               (TODAY - DAY).isoformat(), (TODAY + DAY).isoformat(), list(sites))
    lifecycle.open_poll(conn, poll_id)
    return lifecycle.get(conn, poll_id)


def answer(conn, poll, site, levels, texts=None):
    """One response per level, each from a new device; return the outcomes."""
    out = []
    for i, level in enumerate(levels):
        out.append(lifecycle.store(conn, poll, site, "device-%s-%d" % (site, i),
                                   {0: level, 1: i % 2}, (texts or {}).get(i, {}), "fr"))
    return out


def closed(conn, poll):
    lifecycle.close_poll(conn, poll["id"])
    return results.poll_results(conn, lifecycle.get(conn, poll["id"]))


def group(res, site):
    return next(g for g in res["groups"] if g["site_id"] == site)


def test_a_group_of_4_is_not_shown_a_group_of_5_is(conn):
    p4, p5 = make_poll(conn), make_poll(conn)
    answer(conn, p4, "mairie", [3, 3, 2, 0])
    answer(conn, p5, "mairie", [3, 3, 2, 0, 1])
    r4, r5 = closed(conn, p4), closed(conn, p5)
    assert group(r4, "mairie")["n"] == 4 and not group(r4, "mairie")["shown"]
    assert group(r4, "mairie")["questions"] == [] and not r4["total"]["shown"]
    g = group(r5, "mairie")
    assert g["shown"] and r5["total"]["shown"]
    welcome = g["questions"][0]
    # by hand: levels 3,3,2,0,1 -> scores 100,100,66.7,0,33.3 -> mean 60; 3 positive of 5
    assert welcome["counts"] == [1, 1, 1, 2]
    assert welcome["happy_index"] == 60.0
    assert welcome["positive_share"] == 0.6
    assert g["questions"][1]["counts"] == [3, 2]


def test_a_site_split_to_reach_4_hides_its_complement_too(conn):
    """9 agents over two sites, 5 and 4: showing the total and the site of
    5 would give the site of 4 by subtraction, so the site of 5 is hidden
    too and only the total of 9 is shown."""
    poll = make_poll(conn, sites=("mairie", "annexe"))
    answer(conn, poll, "mairie", [3, 3, 3, 3, 3])
    answer(conn, poll, "annexe", [0, 0, 0, 1])
    res = closed(conn, poll)
    assert not group(res, "annexe")["shown"] and not group(res, "mairie")["shown"]
    assert res["total"]["shown"] and res["total"]["questions"][0]["counts"] == [3, 1, 0, 5]
    # no figure left from which the annexe's 4 answers can be taken
    shown = [g for g in res["groups"] if g["shown"]]
    assert shown == []


def test_three_sites_one_small_the_smallest_shown_one_goes_with_it(conn):
    poll = make_poll(conn, sites=("mairie", "annexe", "bibli"))
    answer(conn, poll, "mairie", [3] * 7)
    answer(conn, poll, "bibli", [2] * 5)
    answer(conn, poll, "annexe", [0] * 2)
    res = closed(conn, poll)
    assert [g["site_id"] for g in res["groups"] if g["shown"]] == ["mairie"]
    # total - mairie = bibli + annexe: 7 people, never the annexe's 2 alone
    assert res["total"]["shown"] and res["total"]["n"] == 14


@pytest.mark.parametrize("sizes,shown,total", [
    ({"a": 4}, set(), False), ({"a": 5}, {"a"}, True), ({"a": 5, "b": 4}, set(), True),
    ({"a": 5, "b": 0}, {"a"}, True), ({"a": 6, "b": 5, "c": 1}, {"a"}, True),
    ({"a": 2, "b": 2}, set(), False), ({"a": 3, "b": 2}, set(), True),
    ({"a": 5, "b": 5}, {"a", "b"}, True)])
def test_visible_groups_by_hand(sizes, shown, total):
    assert anonymity.visible_groups(sizes) == (shown, total)


def test_no_two_shown_figures_differ_by_fewer_than_5_people():
    """Every subset of sizes: each shown figure (groups and total) and each
    difference between two of them that is a set of groups covers either
    nobody or at least 5 people."""
    import itertools
    for sizes in itertools.product(range(0, 8), repeat=3):
        groups = dict(zip("abc", sizes))
        shown, total_ok = anonymity.visible_groups(groups)
        figures = [frozenset([g]) for g in shown] + ([frozenset(groups)] if total_ok else [])
        for a in figures:
            assert sum(groups[g] for g in a) >= 5
        # total minus the shown groups: the hidden ones together
        if total_ok:
            rest = sum(n for g, n in groups.items() if g not in shown)
            assert rest == 0 or rest >= 5


def test_results_only_once_closed_so_a_sixth_answer_reveals_nothing(conn):
    """Two looks that differ by one person: while open, only the count is
    given; the answers are shown once, for the final group."""
    poll = make_poll(conn)
    answer(conn, poll, "mairie", [3, 3, 3, 3, 3])
    before = results.poll_results(conn, poll)
    assert group(before, "mairie")["n"] == 5 and not group(before, "mairie")["shown"]
    assert lifecycle.store(conn, poll, "mairie", "sixth", {0: 0, 1: 0}, {}, "fr") == "stored"
    after = closed(conn, poll)
    assert group(after, "mairie")["questions"][0]["counts"] == [1, 0, 0, 5]


def test_one_answer_per_device_and_devices_forgotten_at_closing(conn):
    poll = make_poll(conn)
    assert lifecycle.store(conn, poll, "mairie", "cookie-1", {0: 3, 1: 0}, {}, "fr") == "stored"
    assert lifecycle.answered(conn, poll["id"], "cookie-1")
    assert lifecycle.store(conn, poll, "mairie", "cookie-1", {0: 0, 1: 0}, {}, "fr") == "answered"
    other = make_poll(conn)  # the same device may answer another poll
    assert lifecycle.store(conn, other, "mairie", "cookie-1", {0: 0, 1: 0}, {}, "fr") == "stored"
    assert conn.execute("SELECT count(*) FROM poll_responses WHERE poll_id = ?",
                        (poll["id"],)).fetchone()[0] == 1
    # what is kept is a hash per poll, never the cookie, and differs between polls
    kept = [r[0] for r in conn.execute("SELECT device FROM poll_devices")]
    assert len(kept) == 2 and "cookie-1" not in kept and kept[0] != kept[1]
    lifecycle.close_poll(conn, poll["id"])
    assert conn.execute("SELECT count(*) FROM poll_devices WHERE poll_id = ?",
                        (poll["id"],)).fetchone()[0] == 0
    assert lifecycle.store(conn, lifecycle.get(conn, poll["id"]), "mairie", "cookie-2",
                           {0: 3, 1: 0}, {}, "fr") == "not_open"


def test_what_a_response_keeps(conn):
    poll = make_poll(conn)
    answer(conn, poll, "mairie", [2], texts={0: {2: "Plus de chaises"}})
    cols = [r[1] for r in conn.execute("PRAGMA table_info(poll_responses)")]
    assert cols == ["id", "poll_id", "site_id", "day", "answers"]
    row = conn.execute("SELECT site_id, day, answers FROM poll_responses").fetchone()
    assert row == ("mairie", lifecycle.local_day(conn, "mairie"), json.dumps({"0": 2, "1": 0}))
    # the free answer is stored apart: nothing ties it to the response
    assert [r[1] for r in conn.execute("PRAGMA table_info(poll_texts)")] == [
        "id", "poll_id", "site_id", "question", "text", "lang", "state"]


def test_free_answers_only_after_moderation_and_masked(conn):
    poll = make_poll(conn)
    texts = {0: {2: "Écrivez-moi à agent.x@mairie.fr ou au 06 12 34 56 78"},
             1: {2: "Texte à refuser"}}
    answer(conn, poll, "mairie", [3, 3, 3, 3, 3], texts=texts)
    res = closed(conn, poll)
    assert group(res, "mairie")["texts"] == []  # pending: not shown
    pending = {t["text"]: t["id"] for t in store.texts(conn, poll["id"])}
    lifecycle.moderate_text(conn, pending[texts[0][2]], approve=True)
    lifecycle.moderate_text(conn, pending[texts[1][2]], approve=False)
    res = results.poll_results(conn, lifecycle.get(conn, poll["id"]))
    assert group(res, "mairie")["texts"] == [
        {"question": 2, "text": "Écrivez-moi à [adresse masquée] ou au [numéro masqué]"}]
    with pytest.raises(lifecycle.PollError):
        lifecycle.moderate_text(conn, 123456, approve=True)


def test_texts_of_a_hidden_group_are_not_shown(conn):
    poll = make_poll(conn)
    answer(conn, poll, "mairie", [3, 3, 3, 3], texts={0: {2: "Une idée"}})
    lifecycle.moderate_text(conn, store.texts(conn, poll["id"])[0]["id"], approve=True)
    res = closed(conn, poll)
    assert group(res, "mairie")["texts"] == [] and res["total"]["texts"] == []


@pytest.mark.parametrize("qs,error", [
    ([], "1 to 8 questions"),
    ([{"kind": "other"}], "kind must be"),
    ([{"kind": "choice", "fr": "a", "en": "b", "choices": [{"fr": "x", "en": "y"}]}],
     "2 to 6 choices"),
    ([{"kind": "scale", "criterion": "nope"}], "criterion"),
    ([{"kind": "scale", "fr": "", "en": "b"}], "fr"),
])
def test_bad_questions_are_refused_with_a_reason(conn, qs, error):
    with pytest.raises(ValueError, match=error):
        lifecycle.create(conn, "T", "T", qs, TODAY.isoformat(), TODAY.isoformat(), ["mairie"])


def test_poll_dates_and_sites_checked(conn):
    qs = [questions.criterion_question("access")]
    with pytest.raises(lifecycle.PollError, match="close on or after"):
        lifecycle.create(conn, "T", "T", qs, TODAY.isoformat(), (TODAY - DAY).isoformat(),
                         ["mairie"])
    with pytest.raises(lifecycle.PollError, match="unknown site"):
        lifecycle.create(conn, "T", "T", qs, TODAY.isoformat(), TODAY.isoformat(), ["nope"])
    poll_id = lifecycle.create(conn, "T", "T", qs, (TODAY + DAY).isoformat(),
                               (TODAY + 2 * DAY).isoformat(), ["mairie"])
    lifecycle.open_poll(conn, poll_id)
    # open, but not yet on its first day
    assert lifecycle.store(conn, lifecycle.get(conn, poll_id), "mairie", "c", {0: 1}, {},
                           "fr") == "not_open"
    assert lifecycle.open_for_site(conn, "mairie") == []


def test_polls_past_their_closing_day_close_themselves(conn):
    poll = make_poll(conn)
    lifecycle.store(conn, poll, "mairie", "c", {0: 1, 1: 0}, {}, "fr")
    # its last day is TODAY + DAY: still open at 23:30 that day in Paris (22:30 UTC)
    last = datetime.datetime.combine(TODAY + DAY, datetime.time(22, 30),
                                     datetime.timezone.utc)
    assert lifecycle.close_expired(conn, last) == []
    assert lifecycle.close_expired(conn, last + datetime.timedelta(hours=1)) == [poll["id"]]
    assert lifecycle.get(conn, poll["id"])["state"] == "closed"
    assert conn.execute("SELECT count(*) FROM poll_devices").fetchone()[0] == 0
