"""Votes the server acknowledged stay acknowledged across a reboot and a power
cut: the real firmware (MicroPython unix port), a real Mosquitto with the
generated ACL and the real `borne serve`; a server-side client watches every
batch the kiosk publishes."""
import time

import paho.mqtt.client as mqtt
import pytest

from protocol import server_wire as w
from sync_server.broker.rules import INGEST_PREFIX
from tests import server_support as ss
from tests.firmware_support import Firmware

pytestmark = pytest.mark.timeout(150)


@pytest.mark.parametrize("restart", ["reboot", "power cut"])
def test_acked_votes_are_not_sent_again_after_a_restart(micropython, tmp_path, restart):
    db = str(tmp_path / "borne.db")
    keys = ss.make_registry(db, kiosks=1, lockout_s=0, sync_s=1)
    dev, secret = next(iter(keys.items()))
    broker, server = ss.secured_server(db)
    fw = Firmware(micropython, tmp_path / "flash.img", env=dict(
        BORNE_DEVICE=dev, BORNE_BROKER=broker.url, BORNE_PASS=secret))
    seen = []
    user = INGEST_PREFIX + "2"  # a spare server account, not the server's own
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=user)
    c.username_pw_set(user, ss.server_secret(db))
    c.on_message = lambda cl, u, m: seen.append(w.decode_batch(m.payload))
    try:
        c.connect("127.0.0.1", broker.port)
        c.subscribe(w.topic(dev, "votes"), qos=1)
        c.loop_start()
        fw.start()
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
        deadline = time.monotonic() + 30
        while fw.ask("show config")["lockout_s"] != 0:
            assert time.monotonic() < deadline, "no config from the server"
            time.sleep(0.1)
        # 11 votes: a full segment of 8 freed by the ack, 3 acked in the tail.
        seqs = [fw.ask("press %d" % (i % 4))["seq"] for i in range(11)]
        st = fw.wait_status(lambda s: s["journal"] == 0 and s["acked"] == seqs[-1], timeout=30)
        assert sorted(s for _, s in ss.stored(db, dev)) == seqs
        if restart == "reboot":
            assert fw.ask("reboot") == {}
            assert fw.wait_exit() == 0
        else:
            fw.kill()
        seen.clear()
        fw.start()
        st = fw.ask("status")
        assert st["boot"] == 2
        assert st["journal"] == 0 and st["acked"] == seqs[-1]  # read back from flash
        assert fw.ask("journal")["pending"] == 0
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
        new = fw.ask("press 1")["seq"]
        assert new == seqs[-1] + 1  # seqs go on, never reused
        fw.wait_status(lambda s: s["journal"] == 0 and s["acked"] == new, timeout=30)
        time.sleep(1.5)  # a resend would come within sync_s
        sent = [v[0] for b in seen for v in b.votes]
        assert sent and set(sent) == {new}, sent  # nothing acknowledged went again
    finally:
        c.loop_stop()
        c.disconnect()
        fw.stop()
        server.stop()
        broker.stop()
