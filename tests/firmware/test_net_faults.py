"""The kiosk on a hostile network, real firmware under the MicroPython unix
port: 200 refused connections in a row leak no socket; a packet announcing
more than the bound is dropped without being allocated; a silent DNS server
does not stop the buttons; a start-up error restarts the board."""
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests import realparts
from tests import server_support as ss
from tests.firmware.net_support import Control, DnsServer, SntpServer, open_sockets
from tests.firmware_support import Firmware

pytestmark = pytest.mark.timeout(240)
MAX_PACKET = 4096  # firmware/mqtt.py, documented in PROTOCOL.md


def test_200_refused_connections_leak_no_socket(micropython, tmp_path):
    """A real Mosquitto refuses the kiosk's credentials 200 times (the
    network toggled to retry at once), under a 96 KiB heap."""
    db = str(tmp_path / "borne.db")
    dev, secret = next(iter(ss.make_registry(db, kiosks=1).items()))
    broker = ss.secured_mosquitto(db)
    server = ss.Server(db, "--http", "127.0.0.1:0", "--mqtt", broker.url).start()
    ctl = Control()
    fw = Firmware(micropython, tmp_path / "flash.img", heap="96k", env=dict(
        BORNE_DEVICE=dev, BORNE_PASS="wrong-" + secret, BORNE_BROKER=broker.url,
        BORNE_SIM_CTL=ctl.addr))
    try:
        fw.start()
        ctl.accept()
        refused = lambda: sum("connection refused" in line for line in fw.logs)  # noqa: E731
        realparts.poll(lambda: refused() >= 1, 20, "a first refusal")
        base = open_sockets(fw.proc.pid)
        while refused() < 201:
            n = refused()
            ctl.send(cmd="net", up=False)
            ctl.send(cmd="net", up=True)  # the kiosk retries at once
            realparts.poll(lambda n=n: refused() > n or fw.proc.poll() is not None, 20,
                           "the next refusal")
            assert fw.proc.poll() is None, fw.logs[-5:]
        assert open_sockets(fw.proc.pid) <= base
        assert not any("MemoryError" in line for line in fw.logs)
        assert fw.ask("set secret " + secret) == {"secret_set": True}
        ctl.send(cmd="net", up=False)
        ctl.send(cmd="net", up=True)
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=30)
        seq = fw.ask("press 3")["seq"]
        fw.wait_status(lambda s: s["acked"] >= seq, timeout=60)  # stored by the server
        assert open_sockets(fw.proc.pid) <= base + 1  # the live link
    finally:
        fw.stop()
        ctl.close()
        server.stop()
        broker.stop()


class HugeBroker:
    """A broker socket that accepts the kiosk, then sends a QoS 1 PUBLISH
    announcing `size` bytes (sent in full), then a valid time message."""

    def __init__(self, size):
        self.size = size
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.pubacks = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _read_packet(self, conn):
        head = conn.recv(1)
        if not head:
            raise OSError("closed")
        n, shift = 0, 0
        while True:
            c = conn.recv(1)[0]
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        body = b""
        while len(body) < n:
            body += conn.recv(n - len(body))
        return head[0] >> 4, body

    def _serve(self):
        conn, _ = self.srv.accept()
        with conn:
            self._read_packet(conn)  # CONNECT
            conn.sendall(b"\x20\x02\x00\x00")
            topic = b"borne/v1/k1/config"
            n = 2 + len(topic) + 2 + self.size
            rl = bytearray()
            while True:
                b, n = n & 0x7F, n >> 7
                rl.append(b | (0x80 if n else 0))
                if not n:
                    break
            conn.sendall(b"\x32" + bytes(rl) + struct.pack(">H", len(topic)) + topic
                         + b"\x12\x34")
            chunk = b"x" * 65536
            left = self.size
            while left:
                k = min(left, len(chunk))
                conn.sendall(chunk[:k])
                left -= k
            tt = b"borne/v1/k1/time"
            msg = b'{"v":1,"utc_ms":%d}' % int(time.time() * 1000)
            conn.sendall(b"\x32" + bytes([2 + len(tt) + 2 + len(msg)]) + struct.pack(
                ">H", len(tt)) + tt + b"\x00\x07" + msg)
            conn.settimeout(30)
            try:
                while True:
                    ptype, body = self._read_packet(conn)
                    if ptype == 4:
                        self.pubacks.append(struct.unpack(">H", body)[0])
            except OSError:
                pass

    def close(self):
        self.srv.close()


def test_a_packet_above_the_bound_is_dropped_unallocated(micropython, tmp_path):
    big = HugeBroker(4 * 1024 * 1024)  # 40 times the kiosk's whole heap
    fw = Firmware(micropython, tmp_path / "flash.img", env=dict(
        BORNE_DEVICE="k1", BORNE_PASS="x", BORNE_BROKER="mqtt://127.0.0.1:%d" % big.port))
    try:
        fw.start()
        realparts.poll(lambda: 0x1234 in big.pubacks, 60, "the PUBACK of the huge message")
        assert any("refused a message above %d bytes or beyond the free heap" % MAX_PACKET in line
                   for line in fw.logs), fw.logs
        # the next message on the same link is read and applied
        realparts.poll(lambda: 7 in big.pubacks, 20, "the PUBACK of the time message")
        assert fw.ask("status")["clock"] == "server"
        assert not any("MemoryError" in line for line in fw.logs)
    finally:
        fw.stop()
        big.close()


def test_a_silent_dns_server_does_not_stop_the_buttons(micropython, tmp_path):
    dns = DnsServer({"broker.test": "127.0.0.1"})
    dns.hold = True
    fw = Firmware(micropython, tmp_path / "flash.img", env=dict(
        BORNE_DEVICE="k1", BORNE_PASS="x", BORNE_DNS=dns.addr,
        BORNE_BROKER="mqtt://broker.test:%d" % realparts.free_port()))
    try:
        fw.start()
        realparts.poll(lambda: dns.count("broker.test") >= 1, 20, "a DNS query")
        # the query is unanswered: the kiosk still takes votes meanwhile
        assert fw.ask("press 1") == {"seq": 1}
        realparts.poll(lambda: any("DNS: no answer for broker.test" in line
                                   for line in fw.logs), 20, "the DNS timeout")
        assert fw.proc.poll() is None
    finally:
        fw.stop()
        dns.close()


def test_ntp_over_udp_sets_the_clock_and_a_silent_server_stops_nothing(micropython,
                                                                        tmp_path):
    silent = SntpServer(1900000000)
    silent.hold = True
    fw = Firmware(micropython, tmp_path / "a.img", env=dict(BORNE_NTP=silent.addr)).start()
    try:
        realparts.poll(lambda: silent.requests >= 1, 20, "an SNTP request")
        assert fw.ask("press 0") == {"seq": 1}  # while the request waits for its answer
        assert fw.ask("status")["clock"] == "unknown"
    finally:
        fw.stop()
        silent.close()
    sntp = SntpServer(1900000000)  # 2030-03-17
    fw = Firmware(micropython, tmp_path / "b.img", env=dict(BORNE_NTP=sntp.addr)).start()
    try:
        fw.wait_status(lambda s: s["clock"] == "ntp", timeout=20)
        assert sntp.requests == 1  # answered at once: the next request in an hour
    finally:
        fw.stop()
        sntp.close()


def test_a_start_up_error_is_logged_and_the_board_restarts(micropython, tmp_path):
    flash = tmp_path / "flash.img"
    fw = Firmware(micropython, flash).start()
    assert fw.ask("version")
    fw.stop()
    # A file where the journal keeps its folder: Kiosk.start() fails.
    script = tmp_path / "break.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nimport flash\ndev = flash.mount('/flash')\n"
        "import os\nfor e in os.listdir('/flash/j/s'):\n    os.remove('/flash/j/s/' + e)\n"
        "os.rmdir('/flash/j/s')\nf = open('/flash/j/s', 'w')\nf.write('x')\nf.close()\n"
        "flash.unmount('/flash', dev)\n" % (realparts.ROOT + "/simulator/mpy"))
    subprocess.run([micropython, str(script)], check=True, env=dict(
        os.environ, BORNE_FLASH=str(flash)), timeout=30)
    again = Firmware(micropython, flash).start(BORNE_RESTART_S="1")
    assert again.wait_exit(30) == 0  # restarted (BORNE_EXIT_ON_REBOOT=1), no traceback
    assert any(line.startswith("kiosk stopped by OSError") and "restart in 1 s" in line
               for line in again.logs), again.logs
    out = "\n".join(again.logs)
    assert "Traceback" not in out
