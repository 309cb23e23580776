"""Past votes sent the way a kiosk sends them: its own broker account,
binary vote batches on borne/v1/{id}/votes, resent until the server's
application ack. The demo fills its history this way, so the figures on
its screens come through the same ingest as live votes."""
import threading
import time

import paho.mqtt.client as mqtt

from protocol import server_wire as w
from sync_server.broker.url import parse_broker_url

ACK_TIMEOUT_S = 10.0
ATTEMPTS = 6


class ReplayError(RuntimeError):
    pass


class ReplayKiosk:
    def __init__(self, device_id, secret, broker_url, boot=1):
        broker = parse_broker_url(broker_url)
        self.device = device_id
        self.boot = boot
        self._acked = 0
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id,
                                  protocol=mqtt.MQTTv311, clean_session=True)
        self.client.username_pw_set(device_id, secret)
        self.client.will_set(w.topic(device_id, "status"), w.encode_json({"state": "offline"}),
                             qos=1, retain=True)
        self._started = time.monotonic()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(ACK_TIMEOUT_S):
            self.close()
            raise ReplayError("%s could not connect to %s" % (device_id, broker_url))

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            return
        client.subscribe(w.topic(self.device, "ack"), qos=1)
        client.publish(w.topic(self.device, "status"),
                       w.encode_json({"state": "online", "boot": self.boot, "fw": "replay"}),
                       qos=1, retain=True)
        self._connected.set()

    def _on_message(self, client, userdata, msg):
        try:
            dev, seq = w.decode_ack(msg.payload)
        except w.WireError:
            return
        if dev == self.device:
            with self._cond:
                self._acked = max(self._acked, seq)
                self._cond.notify_all()

    def send(self, votes, first_seq=1, batch=w.MAX_VOTES):
        """votes: sorted (utc_ms, level, scale, flags). Sends them with seqs
        from first_seq, waits for every ack; returns the next free seq."""
        seq = first_seq
        for start in range(0, len(votes), batch):
            chunk = votes[start:start + batch]
            rows = [(seq + i, t, level, scale, flags)
                    for i, (t, level, scale, flags) in enumerate(chunk)]
            last = rows[-1][0]
            payload = w.encode_batch(self.device, self.boot, rows)
            for _ in range(ATTEMPTS):
                self.client.publish(w.topic(self.device, "votes"), payload, qos=1)
                with self._cond:
                    if self._cond.wait_for(lambda n=last: self._acked >= n, ACK_TIMEOUT_S):
                        break
            else:
                raise ReplayError("%s: no ack for seq %d after %d attempts"
                                  % (self.device, last, ATTEMPTS))
            seq = last + 1
        self.telemetry()
        return seq

    def telemetry(self):
        """What a kiosk reports after syncing: its journal is empty."""
        self.client.publish(w.topic(self.device, "telemetry"), w.encode_json({
            "boot": self.boot, "uptime_s": int(time.monotonic() - self._started),
            "journal": 0, "suppressed": 0, "dropped": 0, "clock": "ntp", "fw": "replay",
            "battery_pct": 100, "rssi": -55}), qos=0)

    def close(self):
        # A clean disconnect does not fire the last will: say offline first.
        info = self.client.publish(w.topic(self.device, "status"),
                                   w.encode_json({"state": "offline"}), qos=1, retain=True)
        try:
            info.wait_for_publish(2)
        except (RuntimeError, ValueError):
            pass  # not connected any more: the broker's last will says it
        self.client.disconnect()
        self.client.loop_stop()
