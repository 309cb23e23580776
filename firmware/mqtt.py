# A small MQTT 3.1.1 client on asyncio streams, over TLS or plain TCP. Every
# network wait has a timeout, so a dead link is noticed (keepalive + read
# timeout) instead of blocking forever. Incoming QoS 1 messages are
# acknowledged only after the handler has run, so a message is never lost
# between PUBACK and processing. The client owns its socket and closes it
# itself: a refused or dropped connection never leaves one open.
import asyncio
import struct
from errno import EINPROGRESS

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
# Largest packet read from the broker (remaining length). The server's
# messages to a kiosk are far smaller; a longer PUBLISH is read through a
# small buffer, acknowledged and dropped, never allocated.
MAX_PACKET = 4096


class MQTTError(Exception):
    pass


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def _varlen(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return out


class Client:
    def __init__(self, client_id, user=None, password=None, keepalive=60, timeout=10):
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.timeout = timeout
        self.reader = None
        self.writer = None
        self.pid = 0
        self.will = None  # (topic, payload, qos, retain)
        self.on_message = None  # async def f(topic, payload)
        self.on_oversized = None  # f(): a packet above MAX_PACKET was dropped
        self.last_rx = 0
        self.sock = None
        self._skip = bytearray(64)

    def set_will(self, topic, payload, qos=1, retain=True):
        self.will = (topic, payload, qos, retain)

    def _next_pid(self):
        self.pid = self.pid % 65535 + 1
        return self.pid

    async def _send(self, pkt):
        self.writer.write(pkt)
        await asyncio.wait_for(self.writer.drain(), self.timeout)

    async def _read(self, n):
        return await asyncio.wait_for(self.reader.readexactly(n), self.timeout)

    async def connect(self, ip, port, clean=True, tls=None, host=None):
        """ip must be a numeric address: no DNS lookup happens here. tls: an
        ssl.SSLContext that verifies the broker's certificate for `host`."""
        self.close()
        # As asyncio.open_connection does, but the socket is ours to close
        # even when connecting fails (a socket from a failed open_connection
        # is never closed). The TLS handshake runs at the first write.
        import socket  # here: a board without a network (Pico) has no socket module

        s = self.sock = socket.socket()
        s.setblocking(False)
        try:
            s.connect(socket.getaddrinfo(ip, port)[0][-1])  # numeric: no DNS here
        except OSError as e:
            if e.errno != EINPROGRESS:
                raise
        if tls:
            s = self.sock = tls.wrap_socket(s, server_hostname=host,
                                            do_handshake_on_connect=False)
            s.setblocking(False)
        self.reader = self.writer = asyncio.StreamWriter(s, {})
        flags = 0x02 if clean else 0
        body = bytearray(_str("MQTT") + b"\x04")
        payload = bytearray(_str(self.client_id))
        if self.will:
            t, m, q, r = self.will
            flags |= 0x04 | (q << 3) | (0x20 if r else 0)
            payload += _str(t) + _str(m)
        if self.user is not None:
            flags |= 0x80
            payload += _str(self.user)
            if self.password is not None:
                flags |= 0x40
                payload += _str(self.password)
        body.append(flags)
        body += struct.pack(">H", self.keepalive)
        body += payload
        await self._send(b"\x10" + _varlen(len(body)) + body)
        head = await self._read(4)
        if head[0] != 0x20 or head[1] != 2:
            raise MQTTError("bad CONNACK")
        if head[3] != 0:
            raise MQTTError("connection refused, code %d" % head[3])
        self.last_rx = asyncio.ticks()
        return head[2] & 1  # session present

    async def publish(self, topic, payload, qos=0, retain=False):
        t = _str(topic)
        n = len(t) + len(payload) + (2 if qos else 0)
        head = bytearray([0x30 | (qos << 1) | (1 if retain else 0)]) + _varlen(n) + t
        pid = 0
        if qos:
            pid = self._next_pid()
            head += struct.pack(">H", pid)
        self.writer.write(head)
        self.writer.write(payload)
        await asyncio.wait_for(self.writer.drain(), self.timeout)
        return pid

    async def subscribe(self, topics, qos=1):
        body = bytearray(struct.pack(">H", self._next_pid()))
        for t in topics:
            body += _str(t) + bytes([qos])
        await self._send(b"\x82" + _varlen(len(body)) + body)

    async def read_packet(self, timeout):
        """Read one packet; return (type, flags, body). Raises on timeout."""
        b = await asyncio.wait_for(self.reader.readexactly(1), timeout)
        n = 0
        shift = 0
        while True:
            c = (await self._read(1))[0]
            n |= (c & 0x7F) << shift
            if not c & 0x80:
                break
            shift += 7
            if shift > 21:
                raise MQTTError("bad remaining length")
        if n > MAX_PACKET:
            await self._refuse(b[0], n)
            return None, 0, b""
        body = await self._read(n) if n else b""
        self.last_rx = asyncio.ticks()
        return b[0] >> 4, b[0] & 0x0F, body

    async def _refuse(self, head, n):
        # Too long to hold: read it through a small buffer and drop it. A
        # QoS 1 PUBLISH is still acknowledged, or the broker would send it
        # again at every connection.
        if head >> 4 != PUBLISH:
            raise MQTTError("packet of %d bytes" % n)
        pid = None
        if head & 6:  # QoS 1: topic length, topic and packet id come first
            tl = struct.unpack(">H", await self._read(2))[0]
            await self._drop(tl)
            pid = await self._read(2)
            n -= tl + 4
            if n < 0:
                raise MQTTError("bad PUBLISH")
        await self._drop(n)
        self.last_rx = asyncio.ticks()
        if pid:
            await self._send(b"\x40\x02" + pid)

    async def _drop(self, n):
        mv = memoryview(self._skip)
        while n > 0:
            k = await asyncio.wait_for(self.reader.readinto(mv[:min(n, 64)]), self.timeout)
            if not k:
                raise MQTTError("link closed")
            n -= k

    async def loop(self):
        """Dispatch incoming packets until the link fails (then raise).
        Sends PINGREQ when idle; a silent link is dead after 1.5 keepalives."""
        ping_after = self.keepalive * 500
        pinged = False
        while True:
            try:
                ptype, flags, body = await self.read_packet(self.keepalive // 2 or 1)
            except asyncio.TimeoutError:
                idle = asyncio.ticks_diff(asyncio.ticks(), self.last_rx)
                if idle > self.keepalive * 1500:
                    raise MQTTError("keepalive timeout") from None
                if idle >= ping_after or not pinged:
                    await self._send(b"\xc0\x00")  # PINGREQ
                    pinged = True
                continue
            pinged = False
            if ptype is None:
                if self.on_oversized:
                    self.on_oversized()
            elif ptype == PUBLISH:
                tl = struct.unpack_from(">H", body, 0)[0]
                topic = bytes(body[2:2 + tl]).decode()
                off = 2 + tl
                qos = (flags >> 1) & 3
                pid = 0
                if qos:
                    pid = struct.unpack_from(">H", body, off)[0]
                    off += 2
                if self.on_message:
                    await self.on_message(topic, body[off:])
                if qos == 1:
                    await self._send(b"\x40\x02" + struct.pack(">H", pid))
                elif qos == 2:
                    raise MQTTError("QoS 2 not supported")
            elif ptype in (PUBACK, SUBACK, PINGRESP):
                pass
            else:
                raise MQTTError("unexpected packet type %d" % ptype)

    def close(self):
        # The socket itself: MicroPython's StreamWriter.close() leaves it open
        # (only wait_closed() closes it), and each leaked socket keeps its
        # buffers (and TLS session) until the heap runs out.
        s = self.sock
        self.sock = self.reader = self.writer = None
        if s is not None:
            try:
                s.close()
            except OSError:
                pass
