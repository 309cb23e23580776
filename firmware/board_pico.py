# Raspberry Pi Pico board (no radio): the Pico W's buttons and LEDs, no
# network. The kiosk runs offline and keeps every vote in its journal until
# a board with a network takes over the flash. The RTC keeps UTC across soft
# resets once a source set it; at power up it is not trusted.
import board_picow
import machine

RTC_VALID_YEAR = 2024  # an RTC reading before this was never set


class Board(board_picow.Board):
    name = "pico"

    def __init__(self, pins=None, buttons=4):
        super().__init__(pins, buttons)
        self.rtc = machine.RTC()
        self.rtc_set = False

    def wifi(self, prov):
        pass  # no radio on this board

    def net_up(self):
        return False

    def ntp(self):
        return None

    def tasks(self, kiosk):
        return ()

    def boot_clock(self, clock):
        # Only an RTC that a source set since the last power up (a soft or
        # machine reset keeps it) gives UTC; the power-up default is 2021.
        import time
        d = self.rtc.datetime()  # (year, month, day, weekday, h, m, s, subsec)
        if d[0] >= RTC_VALID_YEAR:
            s = time.mktime((d[0], d[1], d[2], d[4], d[5], d[6], 0, 0))
            clock.set_utc(s * 1000, "rtc")
            self.rtc_set = True

    def tick(self, kiosk):
        super().tick(kiosk)
        c = kiosk.clock
        if not self.rtc_set and c.state not in ("unknown", "rtc"):
            import time
            t = time.gmtime(c.utc_ms() // 1000)
            self.rtc.datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))
            self.rtc_set = True
