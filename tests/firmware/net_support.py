"""Network pieces for firmware tests: a DNS server the simulated board is
pointed at (BORNE_DNS), the simulator's control channel (BORNE_SIM_CTL) to
take the board's network down and up, and open-socket counting."""
import json
import os
import socket
import struct
import threading


class DnsServer:
    """Answers A queries from `names` ({name: ipv4}) on a UDP loopback port,
    NXDOMAIN for others; counts queries per name. hold=True keeps every
    query unanswered (a DNS server that went silent)."""

    def __init__(self, names):
        self.names = dict(names)
        self.queries = []
        self.hold = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def count(self, name):
        return self.queries.count(name)

    def _serve(self):
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(512)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            qid, _flags, qd = struct.unpack_from(">HHH", data)
            labels, off = [], 12
            while data[off]:
                labels.append(data[off + 1:off + 1 + data[off]].decode())
                off += data[off] + 1
            question = data[12:off + 5]
            name = ".".join(labels)
            self.queries.append(name)
            if self.hold:
                continue
            ip = self.names.get(name)
            head = struct.pack(">HHHHHH", qid, 0x8180 if ip else 0x8183, 1,
                               1 if ip else 0, 0, 0)
            answer = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
                      if ip else b"")
            self.sock.sendto(head + question + answer, peer)

    def close(self):
        self._stop = True
        self.sock.close()


class SntpServer:
    """Answers SNTP requests on a UDP loopback port with utc_s (seconds
    since 1970); hold=True leaves them unanswered. Counts requests."""

    def __init__(self, utc_s):
        self.utc_s = utc_s
        self.requests = 0
        self.hold = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.requests += 1
            if self.hold or len(data) < 48:
                continue
            secs = self.utc_s + 2208988800
            reply = bytearray(48)
            reply[0] = 0x24  # version 4, mode 4 (server)
            reply[1] = 1  # stratum
            reply[24:32] = data[40:48]  # originate = client's transmit
            struct.pack_into(">II", reply, 32, secs, 0)
            struct.pack_into(">II", reply, 40, secs, 1 << 31)  # transmit, .5 s
            self.sock.sendto(bytes(reply), peer)

    def close(self):
        self.sock.close()


class Control:
    """The simulator's end of the board's control channel (CONTROL.md)."""

    def __init__(self):
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.conn = None

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def accept(self, timeout=20):
        self.srv.settimeout(timeout)
        self.conn, _ = self.srv.accept()
        self.conn.setblocking(True)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            while self.conn.recv(4096):
                pass
        except OSError:
            pass

    def send(self, **cmd):
        self.conn.sendall((json.dumps(cmd) + "\n").encode())

    def close(self):
        for s in (self.conn, self.srv):
            if s is not None:
                s.close()


def open_sockets(pid):
    """Sockets the process holds (from /proc/PID/fd)."""
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n
