# The MQTT client's occasional parts (mqtt.py loads this module for the
# occasion and forgets it after): opening a connection, subscribing, and
# reading an oversized packet through a small buffer to drop it.
import asyncio
import struct
from errno import EINPROGRESS

from mqtt import MQTTError, _str, _varlen


async def connect(c, ip, port, clean, tls, host):
    c.close()
    # As asyncio.open_connection does, but the socket is ours to close
    # even when connecting fails (a socket from a failed open_connection
    # is never closed). The TLS handshake runs at the first write.
    import socket  # here: a board without a network (Pico) has no socket module

    s = c.sock = socket.socket()
    s.setblocking(False)
    try:
        s.connect(socket.getaddrinfo(ip, port)[0][-1])  # numeric: no DNS here
    except OSError as e:
        if e.errno != EINPROGRESS:
            raise
    if tls:
        s = c.sock = tls.wrap_socket(s, server_hostname=host,
                                     do_handshake_on_connect=False)
        s.setblocking(False)
    c.reader = c.writer = asyncio.StreamWriter(s, {})
    flags = 0x02 if clean else 0
    body = bytearray(_str("MQTT") + b"\x04")
    payload = bytearray(_str(c.client_id))
    if c.will:
        t, m, q, r = c.will
        flags |= 0x04 | (q << 3) | (0x20 if r else 0)
        payload += _str(t) + _str(m)
    if c.user is not None:
        flags |= 0x80
        payload += _str(c.user)
        if c.password is not None:
            flags |= 0x40
            payload += _str(c.password)
    body.append(flags)
    body += struct.pack(">H", c.keepalive)
    body += payload
    await c._send(b"\x10" + _varlen(len(body)) + body)
    head = await c._read(4)
    if head[0] != 0x20 or head[1] != 2:
        raise MQTTError("bad CONNACK")
    if head[3] != 0:
        raise MQTTError("connection refused, code %d" % head[3])
    c.last_rx = asyncio.ticks()
    return head[2] & 1  # session present


async def subscribe(c, topics, qos=1):
    body = bytearray(struct.pack(">H", c._next_pid()))
    for t in topics:
        body += _str(t) + bytes([qos])
    await c._send(b"\x82" + _varlen(len(body)) + body)


async def refuse(c, head, n):
    # Too long to hold: read it through a small buffer and drop it. A QoS 1
    # PUBLISH is still acknowledged, or the broker would send it again at
    # every connection.
    if head >> 4 != 3:  # PUBLISH
        raise MQTTError("packet of %d bytes" % n)
    mv = memoryview(bytearray(64))
    pid = None
    if head & 6:  # QoS 1: topic length, topic and packet id come first
        tl = struct.unpack(">H", await c._read(2))[0]
        await _drop(c, mv, tl)
        pid = await c._read(2)
        n -= tl + 4
        if n < 0:
            raise MQTTError("bad PUBLISH")
    await _drop(c, mv, n)
    c.last_rx = asyncio.ticks()
    if pid:
        await c._send(b"\x40\x02" + pid)


async def _drop(c, mv, n):
    while n > 0:
        k = await asyncio.wait_for(c.reader.readinto(mv[:min(n, 64)]), c.timeout)
        if not k:
            raise MQTTError("link closed")
        n -= k
