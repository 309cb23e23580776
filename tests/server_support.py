"""Helpers for the sync-server tests: a registry with kiosks, a Python
stand-in for a kiosk's sync loop (journal, batches, resend until the
application ack), and `borne serve` as a subprocess."""
import os
import queue
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

from borne_server import broker_config, registry
from borne_server.store import connect
from protocol import server_wire as w
from tests import realparts

BORNE = os.path.join(os.path.dirname(sys.executable), "borne")
T0 = 1795000000000  # 2026-11-18, a plausible UTC time for votes


def make_registry(db, kiosks=2, site="mairie-centre", buttons=4):
    """Create a site with `kiosks` kiosks; return {device_id: secret}."""
    conn = connect(db)
    if not conn.execute("SELECT 1 FROM sites WHERE id = ?", (site,)).fetchone():
        registry.add_site(conn, site, "Mairie", buttons=buttons)
    out = {}
    for _ in range(kiosks):
        dev, secret = registry.add_kiosk(conn, site)
        out[dev] = secret
    conn.close()
    return out


def secured_mosquitto(db):
    """A real Mosquitto running the output of `borne broker-config` (written
    into the broker's own directory, which user mosquitto can traverse)."""
    broker = realparts.Mosquitto(conf="")
    write_broker_config(db, broker)
    return broker.start()


def write_broker_config(db, broker):
    conn = connect(db)
    out = broker_config.write(conn, os.path.join(broker.dir, "borne"), workers=2)
    conn.close()
    with open(os.path.join(out, "mosquitto.conf")) as f:
        broker.conf = f.read()


def server_secret(db):
    conn = connect(db)
    try:
        return registry.server_secret(conn)
    finally:
        conn.close()


class Server:
    """`borne serve` in a subprocess; waits for its ready line."""

    def __init__(self, db, *args, env=None, log_path=None):
        self.db = db
        self.args = args
        self.env = dict(os.environ, **(env or {}))
        self.log_path = log_path or str(db) + ".server.log"
        self.proc = None
        self.ready_line = None

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BORNE, "serve", "--db", str(self.db), *self.args],
            stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        lines = queue.Queue()

        def pump():
            for raw in self.proc.stdout:
                lines.put(raw.decode())
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self._lines = lines
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError("borne serve not ready; log: %s" % self.log_path) from None
            if line is None:
                raise RuntimeError("borne serve exited with %s; log: %s"
                                   % (self.proc.wait(5), self.log_path))
            if line.startswith("borne: serving"):
                self.ready_line = line.strip()
                return self

    def rest_of_stdout(self, timeout=10):
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            out.append(line)
        return "".join(out)

    def url(self, scheme):
        for part in self.ready_line.split():
            if part.startswith(scheme + "://"):
                return part
        return None

    def terminate(self, timeout=30):
        self.proc.terminate()
        return self.proc.wait(timeout)

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()


class Kiosk:
    """A kiosk's sync loop in Python: votes stay in `pending` until an ack
    names them; batches are resent until acked, across reconnects."""

    def __init__(self, port, dev, secret, boot=1, batch=50, resend_s=1.0):
        self.dev, self.boot, self.batch, self.resend_s = dev, boot, batch, resend_s
        self.pending = {}  # seq -> (seq, t, level, scale, flags)
        self.acks = []
        self.next_seq = 1
        self.lock = threading.Condition()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev,
                                  clean_session=True)
        self.client.username_pw_set(dev, secret)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.will_set(w.topic(dev, "status"), w.encode_json({"state": "offline"}),
                             qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc == 0:
            client.subscribe(w.topic(self.dev, "ack"), qos=1)
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        if msg.topic.endswith("/ack"):
            dev, hi = w.decode_ack(msg.payload)
            with self.lock:
                self.acks.append(hi)
                for s in [s for s in self.pending if s <= hi]:
                    del self.pending[s]
                self.lock.notify_all()

    def press(self, n, t0=T0, flags=0):
        with self.lock:
            for i in range(n):
                seq = self.next_seq
                self.next_seq += 1
                self.pending[seq] = (seq, t0 + seq * 1000, (seq * 7 + i) % 4, 4, flags)

    def publish_raw(self, name, payload, qos=1, retain=False):
        return self.client.publish(w.topic(self.dev, name), payload, qos=qos, retain=retain)

    def sync(self, timeout=60, anchor=None):
        """Send batches until every pending vote is acked; True if done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                todo = sorted(self.pending)[:self.batch]
                if not todo:
                    return True
                votes = [self.pending[s] for s in todo]
            if self.connected.wait(max(0.0, deadline - time.monotonic())):
                self.client.publish(w.topic(self.dev, "votes"),
                                    w.encode_batch(self.dev, self.boot, votes, anchor), qos=1)
            last = todo[-1]
            with self.lock:
                self.lock.wait_for(lambda: last not in self.pending,  # noqa: B023
                                   timeout=min(self.resend_s, max(0.0,
                                                                  deadline - time.monotonic())))
        return not self.pending

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def stored(db, dev=None):
    conn = connect(db)
    try:
        sql = "SELECT device_id, seq FROM votes"
        args = ()
        if dev:
            sql += " WHERE device_id = ?"
            args = (dev,)
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


