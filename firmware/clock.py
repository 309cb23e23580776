# The kiosk's clock: milliseconds since boot (never wraps, never goes back),
# and UTC once a source (NTP, the server's time message, the RTC kept across a
# reset) gave it. Before that votes carry ms since boot with the clock-unknown
# flag; the first anchor (boot_ms, utc_ms) lets the server date them
# (contract 4).
#
# Board ticks wrap every 2^30 ms (12.4 days) and ticks_diff only tells apart
# half of that: boot_ms() takes the elapsed ticks modulo the period, and the
# whole periods the ticks cannot show from the RTC's seconds (time.time(),
# which never wraps), so the time since boot is right whatever the idle time
# between two readings.
import time

F_CLOCK_UNKNOWN = 0x01
EPOCH_2000_MS = 946684800000
# Seconds from 1970 to the port's epoch: 2000 on the ESP32, 1970 on the rp2
# and unix ports.
EPOCH_S = 946684800 if time.gmtime(0)[0] == 2000 else 0
PERIOD = 1 << 30  # board ticks period (ms)


class Clock:
    def __init__(self, board):
        self.board = board  # ticks and RTC (the simulator emulates a board's)
        self._ms = 0
        self._last = board.ticks_ms()
        self._last_s = board.rtc_s()
        self.state = "unknown"
        self.anchor = None  # first (boot_ms, utc_ms) of this boot
        self._base = None  # latest (boot_ms, utc_ms)

    def boot_ms(self):
        b = self.board
        now = b.ticks_ms()
        s = b.rtc_s()
        d = b.ticks_diff(now, self._last)
        if d < 0:  # ticks never go back: more than half a period passed
            d += PERIOD
        coarse = (s - self._last_s) * 1000
        if coarse > d + PERIOD // 2:
            d += (coarse - d + PERIOD // 2) // PERIOD * PERIOD
        self._ms += d
        self._last = now
        self._last_s = s
        return self._ms

    def set_utc(self, utc_ms, source):
        if utc_ms < EPOCH_2000_MS:
            return False
        b = self.boot_ms()
        self._base = (b, utc_ms)
        if self.anchor is None:
            self.anchor = (b, utc_ms)
        self.state = source
        if source != "rtc":
            # The RTC keeps UTC across soft and watchdog resets; boot_ms()
            # reads it again from here.
            self.board.rtc_set(utc_ms)
            self._last_s = self.board.rtc_s()
        return True

    def utc_ms(self):
        if self._base is None:
            return None
        return self._base[1] + self.boot_ms() - self._base[0]

    def stamp(self):
        """(t, flags) for a vote pressed now."""
        u = self.utc_ms()
        if u is None:
            return self.boot_ms(), F_CLOCK_UNKNOWN
        return u, 0


def utc_offset_min(tz, utc_s):
    off = 0
    for start, minutes in tz:
        if utc_s >= start:
            off = minutes
        else:
            break
    return off


def is_open(hours, tz, utc_ms):
    """hours: {weekday: [(open_min, close_min), ...]} in local minutes,
    weekday 0 = Monday; empty means always open. tz: [(utc_s_from, offset)]."""
    if not hours:
        return True
    utc_s = utc_ms // 1000
    local_min = utc_s // 60 + utc_offset_min(tz, utc_s)
    day = (local_min // 1440 + 3) % 7  # 1970-01-01 was a Thursday
    minute = local_min % 1440
    for a, b in hours.get(day, ()):
        if a <= minute < b:
            return True
    return False
