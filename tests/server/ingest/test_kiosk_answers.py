"""Kiosk answers to consultations (protocol version 2) through ingest on a
real SQLite file: the campaign decides the table, answers are stored once,
dated by their boot's anchor, never counted in satisfaction; an unknown
campaign is kept apart and acknowledged; the config names the running
consultation and changes at its opening and closing instants."""
import datetime
import json
import sqlite3
import time

import pytest

from protocol import server_wire as w
from sync_server.ingest import control
from sync_server.ingest.writer import Ingest
from sync_server.scoring import report
from sync_server.storage import kiosk_answers, registry
from sync_server.storage.connection import connect
from tests.server_support import T0, consultation_rows, make_registry, stored, stored_answers

SITE = "mairie-centre"


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "b.db"
    keys = make_registry(db, 2)
    make_registry(db, 1, site="bib-nord")
    consultation_rows(db, 7, [SITE], kiosk_answers=3)
    ing = Ingest(db)
    yield db, sorted(keys), ing
    ing.close()


def batch(dev, votes, boot=1, anchor=None, campaign=None):
    return (w.topic(dev, "votes"), w.encode_batch(dev, boot, votes, anchor, campaign), False)


def answers(seqs, flags=0, t0=T0, scale=3):
    return [(s, t0 + s, s % scale, scale, flags) for s in seqs]


def rows(db, sql, *args):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def test_campaign_decides_the_table_and_each_answer_is_stored_once(setup):
    db, (a, b), ing = setup
    out = ing.process([batch(a, answers(range(1, 6)), campaign=7),
                       batch(a, answers(range(6, 9), scale=4), campaign=0),
                       batch(b, answers(range(1, 4), scale=4))])  # version 1: votes
    assert out.new_votes == 11 and out.answers == 5
    assert [p for _, p in out.acks] == [w.encode_ack(a, 5), w.encode_ack(a, 8),
                                        w.encode_ack(b, 3)]
    assert stored_answers(db) == [(a, s, 7, s % 3) for s in range(1, 6)]
    assert sorted(stored(db)) == sorted([(a, s) for s in (6, 7, 8)] + [(b, s) for s in (1, 2, 3)])
    # Resent, and overlapping: stored once, acked again.
    out = ing.process([batch(a, answers(range(1, 6)), campaign=7),
                       batch(a, answers(range(3, 10)), campaign=7)])
    assert out.new_votes == 4 and out.duplicates == 8
    assert [p for _, p in out.acks] == [w.encode_ack(a, 5), w.encode_ack(a, 9)]
    assert rows(db, "SELECT count(*), count(DISTINCT seq), min(site_id), max(channel),"
                    " min(utc_ms) FROM consultation_answers") == [(9, 9, SITE, "kiosk", T0 + 1)]


def test_answers_never_count_in_satisfaction(setup):
    db, (a, b), ing = setup
    ing.process([batch(b, answers(range(1, 21), scale=4), campaign=0)])
    conn = connect(db)
    before = rows(db, "SELECT * FROM rollup_hourly ORDER BY 1, 2, 3, 4, 5, 6, 7")
    day = datetime.date.fromisoformat(before[0][1])  # the votes' local day
    score = report.satisfaction(conn, SITE, day, day)
    assert score["sources"]["kiosk"]["n"] == 20
    ing.process([batch(a, answers(range(1, 41), scale=3), campaign=7)])
    assert rows(db, "SELECT * FROM rollup_hourly ORDER BY 1, 2, 3, 4, 5, 6, 7") == before
    assert sum(r[-1] for r in before) == 20  # the 20 votes, none of the 40 answers
    assert report.satisfaction(conn, SITE, day, day) == score
    conn.close()


def test_clock_unknown_answers_are_dated_by_their_boot_anchor(setup):
    db, (a, b), ing = setup
    ing.process([batch(a, answers([1, 2], flags=w.F_CLOCK_UNKNOWN, t0=1000), boot=4,
                       campaign=7)])
    assert rows(db, "SELECT utc_ms FROM consultation_answers ORDER BY seq") == [(None,), (None,)]
    # The anchor arrives in an empty satisfaction batch of the same boot.
    ing.process([batch(a, [], boot=4, anchor=(60000, T0), campaign=0)])
    assert rows(db, "SELECT seq, utc_ms FROM consultation_answers ORDER BY seq") == [
        (1, T0 + 1001 - 60000), (2, T0 + 1002 - 60000)]
    # A later answer of that boot is dated on arrival; a vote of it goes to votes.
    ing.process([batch(a, answers([3], flags=w.F_CLOCK_UNKNOWN, t0=1000), boot=4, campaign=7)])
    assert rows(db, "SELECT utc_ms FROM consultation_answers WHERE seq = 3") == [
        (T0 + 1003 - 60000,)]
    assert stored(db) == []


def test_unknown_campaign_is_kept_apart_acked_and_counted(setup):
    db, (a, b), ing = setup
    out = ing.process([batch(a, answers([1, 2, 3]), campaign=99)])
    assert out.acks == [(w.topic(a, "ack"), w.encode_ack(a, 3))]  # the queue moves on
    assert out.unknown_campaign == 3 and out.rejected == 0
    assert rows(db, "SELECT seq, campaign, answer FROM kiosk_answers_unknown ORDER BY seq") == [
        (1, 99, 1), (2, 99, 2), (3, 99, 0)]
    health = {k["id"]: k for k in registry.list_kiosks(connect(db))}
    assert (health[a]["unknown_campaign"], health[b]["unknown_campaign"]) == (3, 0)
    out = ing.process([batch(a, answers([1, 2, 3]), campaign=99)])  # resent: once
    assert out.duplicates == 3 and out.unknown_campaign == 0
    assert stored_answers(db) == [] and stored(db) == []
    assert [r["known"] for r in kiosk_answers.of_kiosk(connect(db), a)] == [0, 0, 0]


def test_running_at_site_follows_state_times_sites_and_kiosk_answers(setup):
    db, _, ing = setup
    now = int(time.time() * 1000)
    consultation_rows(db, 8, [SITE], kiosk_answers=0)  # phone only
    consultation_rows(db, 9, ["bib-nord"], kiosk_answers=2, state="draft")
    consultation_rows(db, 10, ["bib-nord"], kiosk_answers=4, opens_ms=now + 60_000)
    conn = connect(db)
    assert kiosk_answers.running_at_site(conn, SITE, now) == {"id": 7, "kiosk_answers": 3}
    assert kiosk_answers.running_at_site(conn, "bib-nord", now) is None
    assert kiosk_answers.running_at_site(conn, "bib-nord", now + 60_000) == {
        "id": 10, "kiosk_answers": 4}
    closes = rows(db, "SELECT closes_ms FROM consultations WHERE id = 7")[0][0]
    assert kiosk_answers.running_at_site(conn, SITE, closes - 1)["id"] == 7
    assert kiosk_answers.running_at_site(conn, SITE, closes) is None
    conn.close()


def test_config_names_the_consultation_and_changes_at_its_instants(setup):
    db, (a, b), ing = setup
    now = int(time.time() * 1000)
    consultation_rows(db, 10, ["bib-nord"], kiosk_answers=4, opens_ms=now + 60_000,
                     closes_ms=now + 120_000)
    conn = connect(db)
    nord = [d for d, site, _ in registry.trusted_kiosks(conn) if site == "bib-nord"][0]

    def config(dev, at_ms):
        return json.loads(control.kiosk_configs(conn, at_ms / 1000)[dev])

    c = config(a, now)
    assert (c["campaign"], c["answers"], c["buttons"]) == (7, 3, 4)
    assert w.decode_config(json.dumps(c))["campaign"] == 7
    assert "campaign" not in config(nord, now)  # satisfaction: version 1 kiosks read it as ever
    assert config(nord, now + 60_000)["campaign"] == 10
    assert "campaign" not in config(nord, now + 120_000)
    marks = [control.config_mark(conn, t / 1000)
             for t in (now, now + 59_000, now + 60_000, now + 119_000, now + 120_000)]
    assert marks[0] == marks[1] != marks[2] == marks[3] != marks[4]
    # An edit changes the mark too (the kiosks get the new config).
    with conn:
        conn.execute("UPDATE consultations SET kiosk_answers = 2, updated_ms = ? WHERE id = 7",
                     (now + 1,))
    assert control.config_mark(conn, now / 1000) != marks[0]
    assert config(a, now)["answers"] == 2
    conn.close()
