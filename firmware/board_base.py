# The board layer: everything the firmware needs from the hardware. A board
# file (board_esp32, board_picow, or the simulator's) subclasses Board.
import asyncio
import gc
import time

import clock

# An RTC that reads before this was not set since power up (it starts at the
# port's epoch, or 2021 on the rp2): UTC is not known from it.
RTC_VALID_MS = 1735689600000  # 2025-01-01


class Board:
    name = "base"
    has_network = True  # False: no radio, the kiosk loads no MQTT code
    fs_base = ""  # where the LittleFS holding journal and settings is mounted
    poll_ms = 15  # button polling period, also the debounce step
    keepalive_s = 60
    restart_delay_s = 10  # after a start-up error, before the board restarts

    def __init__(self, pins=(), active_low=True):
        self.reboot_event = asyncio.Event()
        self._heap_peak = 0
        self._net_changed = False
        self._stable = [False] * len(pins)
        self._count = [0] * len(pins)
        self.active_low = active_low
        self.buttons = [self.make_button(p) for p in pins]

    # -- buttons: a press counts when the pin reads active for 2 polls ----
    def make_button(self, pin):
        return None

    def read_button(self, button):
        return False

    def poll_buttons(self):
        out = ()
        for i, b in enumerate(self.buttons):
            active = self.read_button(b)
            if active == self._stable[i]:
                self._count[i] = 0
                continue
            self._count[i] += 1
            if self._count[i] >= 2:
                self._stable[i] = active
                self._count[i] = 0
                if active:
                    out += (i,)  # type: ignore[assignment]  # no allocation until a press
        return out

    # -- indicators -------------------------------------------------------
    def thanks(self, seq, level, flags):
        """The vote is durable: thank the citizen."""

    def indicator(self, name, on):
        """name: 'offline' or 'error'."""

    def emit_suppressed(self, button, count):
        pass

    def state_changed(self, kiosk):
        pass

    # -- network ----------------------------------------------------------
    def net_up(self):
        return True

    def net_changed(self):
        c = self._net_changed
        self._net_changed = False
        return c

    def dns_server(self):
        """(ip, port) of the DNS server the network gave, or None."""
        return None

    async def resolve(self, host):
        """host -> numeric IPv4, without blocking the loop (net.py). Called
        at every connection, so a broker that moved is found again."""
        if is_ip(host):
            return host
        import net
        return await net.resolve(host, self.dns_server())

    def battery(self):
        return None, None

    def rssi(self):
        return None

    # -- ticks and RTC: the clock reads them through the board, so the
    # simulator can emulate a board's -------------------------------------
    has_rtc = False  # the RTC keeps UTC across soft and watchdog resets

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def rtc_s(self):
        """The RTC's seconds since the port's epoch (time.time()): never wraps."""
        return int(time.time())

    def rtc_set(self, utc_ms):
        """Keep UTC in the RTC, on a board that has one."""

    def rtc_utc_ms(self):
        """UTC from the RTC if it was set since power up, else None."""
        if not self.has_rtc:
            return None
        u = (self.rtc_s() + clock.EPOCH_S) * 1000
        return u if u >= RTC_VALID_MS else None

    # -- clock, watchdog, flash, console --------------------------------------
    def boot_clock(self, clk):
        """Set the clock from the RTC when a soft or watchdog reset kept it."""
        u = self.rtc_utc_ms()
        if u is not None:
            clk.set_utc(u, "rtc")

    def wdt_start(self):
        pass

    def wdt_feed(self):
        pass

    def tick(self, kiosk):
        """Called every second by the supervisor."""

    def flash_error(self, err):
        """A flash operation failed (the vote was not thanked)."""

    def fs_free(self):
        import os
        try:
            st = os.statvfs(self.fs_base or "/")
        except OSError:
            return None
        # LittleFS may count more blocks in use than the disk has (blocks
        # being rewritten): its free count then wraps around as unsigned.
        free = st[3] if st[3] <= st[2] else 0
        return st[0] * free

    def heap_free(self):
        gc.collect()  # free heap, not free-until-the-next-collection
        return gc.mem_free()

    def heap_peak(self):
        """Most live heap seen: sampled right after collections, one of them
        while a batch is built (the firmware's largest transient need)."""
        return self._heap_peak

    def sample_heap(self):
        used = gc.mem_alloc()
        if used > self._heap_peak:
            self._heap_peak = used

    def console_reader(self):
        import sys
        try:
            return asyncio.StreamReader(sys.stdin)
        except Exception:
            return None

    def console_write(self, line):
        print(line)

    def log(self, msg):
        print("LOG " + msg)

    def tasks(self, kiosk):
        return ()

    def request_reboot(self):
        self.reboot_event.set()


def is_ip(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True
