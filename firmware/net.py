# Name resolution and NTP over UDP without blocking the event loop.
# socket.getaddrinfo and ntptime block for as long as the server takes (DNS
# retries: many seconds on lwIP), long enough to miss a press or starve the
# watchdog. Here each exchange is one non-blocking UDP socket: the task waits
# on it through asyncio, so buttons and the supervisor run meanwhile, and
# the wait is bounded by a timeout. The socket is always closed.
import asyncio
import os
import socket
import struct
import time

DNS_TIMEOUT_MS = 3000
NTP_TIMEOUT_MS = 2000
NTP_HOST = "pool.ntp.org"
NTP_DELTA_S = 2208988800  # 1900-01-01 (NTP era 0) to 1970-01-01


async def exchange(ip, port, packet, check, timeout_ms):
    """Send one datagram to a numeric address; return the first reply that
    check(reply) turns into something other than None, or None at timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.connect(socket.getaddrinfo(ip, port)[0][-1])  # numeric: no lookup
        s.send(packet)
        stream = asyncio.StreamReader(s, {})
        end = time.ticks_add(time.ticks_ms(), timeout_ms)
        while True:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                return None
            try:
                v = check(await asyncio.wait_for_ms(stream.read(512), left))
            except asyncio.TimeoutError:
                return None
            except OSError:  # e.g. ICMP port unreachable: keep waiting
                await asyncio.sleep_ms(50)
                continue
            if v is not None:
                return v
    finally:
        s.close()


def dns_query(host, qid):
    q = bytearray(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0))  # recursion desired
    for label in host.split("."):
        if not 0 < len(label) < 64:
            raise ValueError("bad host name %s" % host)
        q.append(len(label))
        q += label.encode()
    q += b"\x00\x00\x01\x00\x01"  # type A, class IN
    return q


def _skip_name(data, off):
    while True:
        n = data[off]
        if n & 0xC0 == 0xC0:
            return off + 2
        if n == 0:
            return off + 1
        off += n + 1


def dns_answer(data, qid):
    """The first IPv4 address of a reply to query qid; '' when the server
    says the name does not exist; None for anything else (keep waiting)."""
    if len(data) < 12:
        return None
    rid, flags, qd, an = struct.unpack_from(">HHHH", data, 0)
    if rid != qid or not flags & 0x8000:
        return None
    if flags & 0x0F:
        return ""
    try:
        off = 12
        for _ in range(qd):
            off = _skip_name(data, off) + 4
        for _ in range(an):
            off = _skip_name(data, off)
            typ, cls, _ttl, rdlen = struct.unpack_from(">HHIH", data, off)
            off += 10
            if typ == 1 and cls == 1 and rdlen == 4:
                return "%d.%d.%d.%d" % (data[off], data[off + 1], data[off + 2], data[off + 3])
            off += rdlen
    except (IndexError, ValueError):
        return None
    return ""


async def resolve(host, server, timeout_ms=DNS_TIMEOUT_MS):
    """host -> dotted IPv4 through the DNS server (ip, port). Raises OSError
    when the server says no or does not answer in time."""
    if not server:
        raise OSError("no DNS server to resolve %s" % host)
    r = os.urandom(2)  # a random id: a spoofed answer must guess it
    qid = (r[0] << 8 | r[1]) or 1
    ip = await exchange(server[0], server[1], dns_query(host, qid),
                        lambda d: dns_answer(d, qid), timeout_ms)
    if ip is None:
        raise OSError("DNS: no answer for %s from %s within %d ms"
                      % (host, server[0], timeout_ms))
    if not ip:
        raise OSError("DNS: %s not found" % host)
    return ip


def ntp_answer(data):
    if len(data) < 48 or data[0] & 7 != 4:  # mode 4: server
        return None
    secs, frac = struct.unpack_from(">II", data, 40)
    if not secs:
        return None
    if secs < 0x80000000:
        secs += 0x100000000  # NTP era 1 (from 2036)
    return (secs - NTP_DELTA_S) * 1000 + (frac * 1000 >> 32)


async def ntp_utc_ms(server, timeout_ms=NTP_TIMEOUT_MS):
    """UTC milliseconds since 1970 from an SNTP server (ip, port), or None.
    The same on every port: no epoch offset to apply."""
    pkt = bytearray(48)
    pkt[0] = 0x1B  # version 3, client
    return await exchange(server[0], server[1], pkt, ntp_answer, timeout_ms)


async def ntp_task(board, kiosk, server=(NTP_HOST, 123)):
    # Hourly once set, every 30 s until then; each try bounded (see above),
    # the server's name resolved again each time.
    while True:
        utc = None
        if board.net_up():
            try:
                utc = await ntp_utc_ms((await board.resolve(server[0]), server[1]))
            except (OSError, ValueError):
                pass
        if utc:
            kiosk.clock.set_utc(utc, "ntp")
            await asyncio.sleep(3600)
        else:
            await asyncio.sleep(30)

