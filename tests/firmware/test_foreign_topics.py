"""The kiosk acts only on its own topics: a broker that delivers another
kiosk's config (or a topic that merely ends like one of its own) is ignored.
The broker here is a minimal MQTT responder that misbehaves on purpose, since
a correct broker never delivers such a message; the firmware is the real one
under the MicroPython unix port."""
import socket
import struct
import threading

import pytest

from protocol import server_wire as w
from tests import realparts
from tests.firmware_support import Firmware

pytestmark = pytest.mark.timeout(90)

DEV = "kiosk-own"


def config(site, lockout):
    return w.encode_json({"site": site, "buttons": 4, "lockout_s": lockout, "sync_s": 5,
                          "telemetry_s": 300, "batch": 50, "hours": {}, "tz": []})


class RogueBroker:
    """Accepts one kiosk, answers CONNECT, SUBSCRIBE, PUBLISH and PINGREQ;
    `send(topic, payload)` pushes a QoS 0 PUBLISH on any topic."""

    def __init__(self):
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.subscribed = threading.Event()
        self.conn = None
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _packet(self):
        head = self._read(1)[0]
        length, mult = 0, 1
        while True:
            b = self._read(1)[0]
            length += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return head, self._read(length)

    def _write(self, data):
        with self.lock:
            self.conn.sendall(data)

    def _serve(self):
        self.conn, _ = self.srv.accept()
        try:
            while True:
                head, body = self._packet()
                kind = head >> 4
                if kind == 1:  # CONNECT
                    self._write(b"\x20\x02\x00\x00")
                elif kind == 8:  # SUBSCRIBE: grant every filter at QoS 1
                    n = 0
                    off = 2
                    while off < len(body):
                        tl = struct.unpack_from(">H", body, off)[0]
                        off += 2 + tl + 1
                        n += 1
                    self._write(bytes([0x90, 2 + n]) + body[:2] + b"\x01" * n)
                    self.subscribed.set()
                elif kind == 3 and (head >> 1) & 3:  # PUBLISH QoS 1
                    tl = struct.unpack_from(">H", body, 0)[0]
                    self._write(b"\x40\x02" + body[2 + tl:4 + tl])
                elif kind == 12:  # PINGREQ
                    self._write(b"\xd0\x00")
        except (EOFError, OSError):
            pass

    def send(self, topic, payload):
        t = topic.encode()
        body = struct.pack(">H", len(t)) + t + payload
        n, length = len(body), b""
        while True:  # MQTT's variable-length remaining length
            n, digit = n >> 7, n & 0x7F
            length += bytes([digit | (0x80 if n else 0)])
            if not n:
                break
        self._write(b"\x30" + length + body)

    def close(self):
        for s in (self.conn, self.srv):
            if s:
                s.close()


def test_kiosk_ignores_messages_on_topics_not_its_own(micropython, tmp_path):
    broker = RogueBroker()
    fw = Firmware(micropython, tmp_path / "flash.img", env=dict(
        BORNE_DEVICE=DEV, BORNE_BROKER="mqtt://127.0.0.1:%d" % broker.port,
        BORNE_PASS="secret"))
    fw.start()
    try:
        assert broker.subscribed.wait(30), "the kiosk never subscribed; %s" % fw.logs[-5:]
        before = fw.ask("show config")
        foreign = [w.topic("kiosk-other", "config"),        # another kiosk's config
                   "borne/v1/x/%s/config" % DEV,            # ends like its own
                   "other/v1/%s/config" % DEV,              # another root
                   w.topic(DEV, "config") + "/extra"]       # one level too many
        for topic in foreign:
            broker.send(topic, config("elsewhere", 7))
        realparts.poll(lambda: sum("ignored" in x for x in fw.logs) >= len(foreign),
                       timeout=20, what="the kiosk to log every foreign message")
        after = fw.ask("show config")
        assert after["site"] == before["site"] and not after["server_config"]
        assert sum("ignored" in x for x in fw.logs) == len(foreign)
        # Its own topic is applied: the same payload would have been accepted.
        broker.send(w.topic(DEV, "config"), config("ours", 7))
        realparts.poll(lambda: fw.ask("show config")["site"] == "ours", timeout=20,
                       what="the kiosk to apply its own config")
        assert fw.ask("show config")["lockout_s"] == 7
    finally:
        fw.stop()
        broker.close()
