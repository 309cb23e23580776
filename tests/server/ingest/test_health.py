"""Truthful health against a real Mosquitto and a real `borne serve`: the
broker link shows down during an outage, refusals are counted per reason in
/healthz and logged as counts per interval while a burst goes on."""
import json
import re
import signal
import time
import urllib.request

from protocol import server_wire as w
from sync_server.ingest.mqtt_link import KEEPALIVE_S, REFUSAL_LOG_S
from tests.realparts import wait_until
from tests.server_support import T0, Kiosk, make_registry, secured_server


def health(server):
    with urllib.request.urlopen(server.base + "/healthz", timeout=5) as resp:
        return json.loads(resp.read())["mqtt"]


def logged_refusals(server):
    """Messages counted by the refusal lines of the server's log."""
    return sum(int(n) for n in re.findall(r"refused (\d+) messages since the last line",
                                          server.log_text()))


def test_healthz_shows_the_broker_down_during_an_outage(tmp_path):
    db = tmp_path / "b.db"
    make_registry(db, 1)
    broker, server = secured_server(db)
    try:
        assert wait_until(lambda: health(server)["connected"], 10)
        broker.stop(kill=True)
        down_at = time.monotonic()
        assert wait_until(lambda: not health(server)["connected"], KEEPALIVE_S * 1.5)
        assert time.monotonic() - down_at <= KEEPALIVE_S * 1.5
        # It stays down while the broker is away, and comes back with it.
        time.sleep(1.0)
        assert not health(server)["connected"]
        broker.start()
        assert wait_until(lambda: health(server)["connected"], 30)
    finally:
        server.stop()
        broker.stop()


def test_healthz_shows_a_silent_broker_down_within_the_keepalive(tmp_path):
    """A broker that stops answering without closing the connection (a
    frozen host, a cut link): the link's probe sees it before the keepalive."""
    db = tmp_path / "b.db"
    make_registry(db, 1)
    broker, server = secured_server(db)
    try:
        assert wait_until(lambda: health(server)["connected"], 10)
        broker.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        try:
            assert wait_until(lambda: not health(server)["connected"], KEEPALIVE_S)
            assert time.monotonic() - frozen_at <= KEEPALIVE_S
        finally:
            broker.proc.send_signal(signal.SIGCONT)
        assert wait_until(lambda: health(server)["connected"], 30)
    finally:
        server.stop()
        broker.stop()


def test_refusals_are_counted_per_reason_and_logged_during_a_burst(tmp_path):
    db = tmp_path / "b.db"
    keys = make_registry(db, 1)
    dev = sorted(keys)[0]
    broker, server = secured_server(db)
    kiosk = None
    try:
        kiosk = Kiosk(broker.port, dev, keys[dev])
        assert kiosk.connected.wait(10)
        started = time.monotonic()
        for _ in range(40):
            kiosk.publish_raw("votes", b"\x01garbage")
        for _ in range(3):  # a payload naming another kiosk
            kiosk.publish_raw("votes", w.encode_batch("other", 1, [(1, T0, 0, 4, 0)]))
        assert wait_until(lambda: health(server)["rejected"] == 43, 15)
        assert health(server)["refused"] == {"malformed": 40, "device_mismatch": 3}
        # The first refusal shows at once, the rest of the burst within one
        # interval, not at shutdown.
        assert wait_until(lambda: logged_refusals(server) == 43, REFUSAL_LOG_S + 5)
        assert time.monotonic() - started < REFUSAL_LOG_S + 5
        assert "malformed" in server.log_text()
        lines = re.findall(r"refused \d+ messages since the last line", server.log_text())
        assert 1 <= len(lines) <= 3, lines  # counts per interval, not one line each
        # A second burst later is logged again.
        for _ in range(5):
            kiosk.publish_raw("votes", b"\x02bad")
        assert wait_until(lambda: logged_refusals(server) == 48, REFUSAL_LOG_S + 5)
        assert health(server)["refused"]["malformed"] == 45
    finally:
        if kiosk:
            kiosk.close()
        server.stop()
        broker.stop()
