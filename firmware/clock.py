# The kiosk's clock: milliseconds since boot (never wraps), and UTC once a
# source (NTP, the server's time message, an RTC) gave it. Before that votes
# carry ms since boot with the clock-unknown flag; the first anchor
# (boot_ms, utc_ms) lets the server date them (contract 4).
import time

F_CLOCK_UNKNOWN = 0x01
EPOCH_2000_MS = 946684800000


class Clock:
    def __init__(self):
        self._ms = 0
        self._last = time.ticks_ms()
        self.state = "unknown"
        self.anchor = None  # first (boot_ms, utc_ms) of this boot
        self._base = None  # latest (boot_ms, utc_ms)

    def boot_ms(self):
        now = time.ticks_ms()
        self._ms += time.ticks_diff(now, self._last)
        self._last = now
        return self._ms

    def set_utc(self, utc_ms, source):
        if utc_ms < EPOCH_2000_MS:
            return False
        b = self.boot_ms()
        self._base = (b, utc_ms)
        if self.anchor is None:
            self.anchor = (b, utc_ms)
        self.state = source
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
