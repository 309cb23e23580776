# A small MQTT 3.1.1 client on asyncio streams, over TLS or plain TCP. Every
# network wait has a timeout, so a dead link is noticed (keepalive + read
# timeout) instead of blocking forever. Incoming QoS 1 messages are
# acknowledged only after the handler has run, so a message is never lost
# between PUBACK and processing. The client owns its socket and closes it
# itself: a refused or dropped connection never leaves one open.
# Connecting, subscribing and dropping an oversized packet, each needed once
# in a while, live in mqtt_open.py, loaded for the occasion and forgotten after.
import asyncio
import gc
import struct
import sys

from micropython import const

_PUBLISH = const(3)
_PUBACK = const(4)
_SUBACK = const(9)
_PINGRESP = const(13)
# Largest packet read from the broker (remaining length). The server's
# messages to a kiosk are far smaller; a longer PUBLISH is read through a
# small buffer, acknowledged and dropped, never allocated.
MAX_PACKET = 4096


class MQTTError(Exception):
    pass


def _room(n):
    # Reading a packet takes its length about three times over (the read,
    # the copy, the payload's slice). A packet the heap cannot hold now is
    # dropped like an oversized one: a MemoryError mid-read would cost the
    # session, and the same retained message would end the next one too.
    try:
        bytearray(n)
        return True
    except MemoryError:
        gc.collect()
    try:
        bytearray(n)
        return True
    except MemoryError:
        return False


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
        import mqtt_open
        try:
            return await mqtt_open.connect(self, ip, port, clean, tls, host)
        finally:
            sys.modules.pop("mqtt_open", None)  # its code goes at the next collection

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
        if n > MAX_PACKET or n > 256 and not _room(3 * n):
            await self._refuse(b[0], n)
            return None, 0, b""
        body = await self._read(n) if n else b""
        self.last_rx = asyncio.ticks()
        return b[0] >> 4, b[0] & 0x0F, body

    async def _refuse(self, head, n):
        import mqtt_open
        try:
            await mqtt_open.refuse(self, head, n)
        finally:
            sys.modules.pop("mqtt_open", None)  # its code goes at the next collection

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
            elif ptype == _PUBLISH:
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
            elif ptype in (_PUBACK, _SUBACK, _PINGRESP):
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
