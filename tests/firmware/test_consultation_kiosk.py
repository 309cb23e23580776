"""Consultations on the kiosks, end to end: the real firmware (protocol
version 2) under the MicroPython unix port, a real Mosquitto, `borne serve`
and SQLite; next to it a version 1 kiosk (the CPython stand-in of
tests/server_support.py). Each answer lands on the consultation it was
pressed under, even when the kiosk was offline when it closed."""
import sqlite3
import time

import pytest

from tests import server_support as ss
from tests.firmware.test_firmware_sync import (
    Rig,
    close_consultation,
    configured,
    press_many,
    set_kiosk_acl,
)
from tests.realparts import wait_until

pytestmark = pytest.mark.timeout(150)
SITE = "mairie-centre"


@pytest.fixture
def rig(micropython, tmp_path):
    r = Rig(micropython, tmp_path, kiosks=2)
    yield r
    r.close()


def rollup_total(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT coalesce(sum(n), 0) FROM rollup_hourly").fetchone()[0]
    finally:
        conn.close()


def test_v1_and_v2_kiosks_side_by_side(rig):
    ss.consultation_rows(rig.db, 7, [SITE], kiosk_answers=3)
    v1_dev, v1_secret = sorted(rig.keys.items())[1]
    v1 = ss.Kiosk(rig.broker.port, v1_dev, v1_secret)  # version 1: no campaign
    try:
        rig.fw.start()
        configured(rig.fw, campaign=7)
        assert rig.fw.ask("show config")["answers"] == 3
        seqs = press_many(rig.fw, 6, buttons=3)
        assert rig.fw.ask("press 3")[0] == "ERR"  # no 4th answer on the card: ignored
        assert rig.fw.ask("show config")["campaign"] == 7
        v1.press(5)  # the version 1 kiosk reads no campaign: satisfaction votes
        assert v1.sync(30)
        rig.synced()
    finally:
        v1.close()
    assert ss.stored_answers(rig.db) == [(rig.dev, s, 7, i % 3) for i, s in enumerate(seqs)]
    assert ss.stored(rig.db, rig.dev) == []
    assert sorted(ss.stored(rig.db, v1_dev)) == [(v1_dev, s) for s in range(1, 6)]
    assert rollup_total(rig.db) == 5  # only the version 1 kiosk's votes count


def test_consultation_closing_while_kiosk_offline(rig):
    """Answers pending on a kiosk when its consultation closes land on it;
    the presses after the new config are satisfaction votes."""
    ss.consultation_rows(rig.db, 7, [SITE], kiosk_answers=3)
    rig.fw.start()
    configured(rig.fw, campaign=7)
    first = press_many(rig.fw, 2, buttons=3)
    rig.synced()
    # Offline: the broker goes away; answers wait in the journal meanwhile.
    rig.broker.stop(kill=True)
    rig.fw.wait_status(lambda s: s["mqtt"] == "down", timeout=30)
    offline = press_many(rig.fw, 3, 2, buttons=3)
    close_consultation(rig.db, 7)
    rig.broker.start()
    configured(rig.fw, campaign=0, timeout=60)  # back: the closed consultation's config
    after = press_many(rig.fw, 2)
    rig.synced()
    assert [a[1:3] for a in ss.stored_answers(rig.db)] == [(s, 7) for s in first + offline]
    assert ss.stored(rig.db, rig.dev) == [(rig.dev, s) for s in after]

    # Consultation 8 opens; the kiosk can receive but its batches are dropped
    # by the broker, so answers are pending when 8 closes and the new config
    # arrives; the votes pressed then queue behind them.
    set_kiosk_acl(rig, "publishClientSend", "votes", False)
    now = int(time.time() * 1000)
    ss.consultation_rows(rig.db, 8, [SITE], kiosk_answers=2, opens_ms=now - 1000)
    configured(rig.fw, campaign=8)
    pending = press_many(rig.fw, 3, buttons=2)
    close_consultation(rig.db, 8)
    configured(rig.fw, campaign=0)
    votes = press_many(rig.fw, 2)
    assert rig.fw.ask("status")["journal"] == 5
    set_kiosk_acl(rig, "publishClientSend", "votes", True)
    rig.synced()
    assert wait_until(lambda: len(ss.stored_answers(rig.db)) == 8, 10)
    assert [a[1:3] for a in ss.stored_answers(rig.db)][5:] == [(s, 8) for s in pending]
    assert ss.stored(rig.db, rig.dev) == [(rig.dev, s) for s in after + votes]
    assert rollup_total(rig.db) == 4
