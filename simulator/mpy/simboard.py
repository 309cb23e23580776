# The simulator's board: flash in an image file, buttons and network driven
# by control lines from the simulator (see CONTROL.md), console on stdio.
# Ticks and RTC behave as a board's: ticks wrap every 2^30 ms, the RTC keeps
# UTC across a reset but not across a power cut, and a test can fast-forward
# idle time (`sim idle SECONDS` on the console, simlines.py).
import json
import os
import time

import board_base
import clock
from flash import mount as mount_flash
from flash import unmount as unmount_flash

POWER_CUT_EXIT = 137
PERIOD = clock.PERIOD
HALF = PERIOD // 2


def env(name, default=None):
    v = os.getenv(name)
    return default if v is None or v == "" else v


class SimBoard(board_base.Board):
    name = "sim"
    fs_base = "/flash"
    has_rtc = True

    def __init__(self):
        super().__init__()
        self.keepalive_s = int(env("BORNE_KEEPALIVE", "30"))
        self.restart_delay_s = int(env("BORNE_RESTART_S", "10"))
        ntp = env("BORNE_NTP", "")
        self.ntp_server = None
        if ":" in ntp:
            host, port = ntp.split(":")
            self.ntp_server = (host, int(port))
        if self.dns_server() or self.ntp_server:
            import net  # noqa: F401 - loaded at boot, while the heap is whole
        self.flash = None
        self.queue = []
        self._net = True
        self.mv = 3900
        self.pct = 80
        self.dbm = -61
        self.writer = None
        self.dirty = False
        self.kiosk = None
        self.last_state = None
        self.leds = {}
        self.usb_break = False  # Ctrl-C seen: run the REPL once the firmware stops
        # Idle time fast-forwarded (ms), and the RTC as an offset from the
        # host's clock: at power up it starts at the epoch, as a board's does.
        self.skew_ms = 0
        self.share = 0  # heap of the parts a board has in C (set by kiosk.py)
        self.rtc_delta = -int(time.time())
        import simlines
        simlines.load_rtc(self)
        simlines.forget()

    # -- ticks and RTC -------------------------------------------------------
    def ticks_ms(self):
        return (time.ticks_ms() + self.skew_ms) & (PERIOD - 1)

    def ticks_diff(self, a, b):
        return ((a - b + HALF) & (PERIOD - 1)) - HALF

    def ticks_add(self, a, d):
        return (a + d) & (PERIOD - 1)

    def rtc_s(self):
        return int(time.time()) + self.skew_ms // 1000 + self.rtc_delta

    def rtc_set(self, utc_ms):
        self.rtc_delta = utc_ms // 1000 - clock.EPOCH_S - int(time.time()) - self.skew_ms // 1000

    # -- flash ------------------------------------------------------------
    def mount(self):
        if self.flash is None:  # kiosk.py mounts it before importing the firmware
            self.flash = mount_flash(self.fs_base)

    def unmount(self):
        unmount_flash(self.fs_base, self.flash)

    def check_power(self):
        if self.flash is not None and self.flash.dead:
            raise SystemExit(POWER_CUT_EXIT)

    def flash_error(self, err):
        self.check_power()

    def tick(self, kiosk):
        self.check_power()
        self.state_changed(kiosk)

    # -- buttons and indicators -------------------------------------------
    def poll_buttons(self):
        if not self.queue:
            return ()
        q = tuple(self.queue)
        self.queue = []
        return q

    def emit(self, ev):
        self.check_power()
        if self.writer is None:
            return
        try:
            self.writer.write(json.dumps(ev) + "\n")
            self.dirty = True
        except OSError:
            self.writer = None

    def thanks(self, seq, level, flags):
        self.emit({"ev": "vote", "seq": seq, "level": level, "flags": flags})
        self.indicator("thanks", True)

    def indicator(self, name, on):
        if self.leds.get(name) != on:
            self.leds[name] = on
            self.emit({"ev": "led", "name": name, "on": on})

    def emit_suppressed(self, button, count):
        self.emit({"ev": "suppressed", "button": button, "count": count})

    def state_changed(self, kiosk):
        if self.writer is not None:  # a simulator listens (simctl.py)
            import simctl
            simctl.state(self, kiosk)
        if self.leds.get("thanks"):
            self.indicator("thanks", False)

    # -- network, clock, power ---------------------------------------------
    def net_up(self):
        return self._net

    async def resolve(self, host):
        if not self._net:
            raise OSError(113)  # no route: never a DNS lookup while down
        return await board_base.Board.resolve(self, host)

    def dns_server(self):
        # BORNE_DNS=ip:port: the DNS server the network gives (DHCP on a board).
        v = env("BORNE_DNS")
        if v:
            ip, port = v.split(":")
            return ip, int(port)

    def battery(self):
        return self.mv, self.pct

    def rssi(self):
        return self.dbm

    def boot_clock(self, clk):
        if env("BORNE_NTP") == "1":
            clk.set_utc(time.time_ns() // 1000000, "ntp")
        else:
            board_base.Board.boot_clock(self, clk)

    # -- console -------------------------------------------------------------
    def console_write(self, line):
        self.check_power()
        print(line)

    def log(self, msg):
        if self.flash is not None and self.flash.dead:
            return
        print("LOG " + msg)

    def request_reboot(self):
        # A reset, not a power cut: the RTC keeps its time.
        if self.flash is None or not self.flash.dead:
            import simlines
            simlines.save_rtc(self)
            simlines.forget()
        self.reboot_event.set()

    def console_reader(self):
        # Ctrl-C on the USB serial stops the firmware for the REPL (usb_repl.py).
        import asyncio
        import gc

        import usb_tap
        # asyncio's stream classes, loaded on first use, are the firmware's
        # (the MQTT client and a board's console reader use them): loaded
        # before measuring so they do not count in the board's share.
        asyncio.StreamReader  # noqa: B018
        gc.collect()
        before = gc.mem_alloc()
        tap = usb_tap.ConsoleTap(self)
        gc.collect()
        self.share += gc.mem_alloc() - before
        return tap

    # -- control channel (simctl.py, loaded only with a simulator) ---------
    def tasks(self, kiosk):
        self.kiosk = kiosk
        out = []
        if self.ntp_server:
            import net
            out.append(net.ntp_task(self, kiosk, self.ntp_server))
        ctl = env("BORNE_SIM_CTL")
        if ctl:
            import simctl
            out += [simctl.control(self, ctl), simctl.flusher(self)]
        return out
