# ESP32 board: buttons to ground with pull-ups, thank-you and offline LEDs,
# Wi-Fi station, DNS and NTP (firmware/net.py: they never block the loop),
# hardware watchdog, battery on an ADC divider.
import time

import board_base
import clock
import machine

PINS = (13, 12, 14, 27)  # least to most satisfied
LED_THANKS = 2
LED_OFFLINE = 4
BATTERY_ADC = 34  # through a 1:2 divider


class Board(board_base.Board):
    name = "esp32"
    has_rtc = True
    # A board that differs only by its pins sets these (see board_picow).
    default_pins = PINS
    led_thanks_pin = LED_THANKS  # type: int | str
    led_offline_pin = LED_OFFLINE

    def __init__(self, pins=None, buttons=4):
        self._wdt = None
        self.wlan = None
        self.wifi_at = None
        super().__init__((pins or self.default_pins)[:buttons])
        self.led = machine.Pin(self.led_thanks_pin, machine.Pin.OUT, value=0)
        self.led_off = machine.Pin(self.led_offline_pin, machine.Pin.OUT, value=1)
        self.led_until = time.ticks_ms()
        self.adc = self.open_adc()

    def open_adc(self):
        try:
            adc = machine.ADC(machine.Pin(BATTERY_ADC))
            adc.atten(machine.ADC.ATTN_11DB)
            return adc
        except (AttributeError, ValueError):
            return None

    def make_button(self, pin):
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)

    def read_button(self, button):
        return button.value() == 0

    def thanks(self, seq, level, flags):
        self.led.value(1)
        self.led_until = time.ticks_add(time.ticks_ms(), 1500)

    def indicator(self, name, on):
        if name in ("offline", "error"):
            self.led_off.value(1 if on else 0)

    def tick(self, kiosk):
        if self.led.value() and time.ticks_diff(time.ticks_ms(), self.led_until) > 0:
            self.led.value(0)
        self.wifi(kiosk.settings.prov)

    def wifi(self, prov):
        import network
        if self.wlan is None:
            self.wlan = network.WLAN(network.STA_IF)
            self.wlan.active(True)
        if self.wlan.isconnected() or not prov.get("wifi_ssid"):
            return
        # Retry every 15 s at most: a connect call aborts the one in progress.
        now = time.ticks_ms()
        if self.wifi_at is not None and time.ticks_diff(now, self.wifi_at) < 15000:
            return
        self.wifi_at = now
        try:
            self.wlan.connect(prov["wifi_ssid"], prov.get("wifi_pass", ""))
        except OSError:
            pass

    def net_up(self):
        return self.wlan is not None and self.wlan.isconnected()

    def rssi(self):
        if self.wlan is None:
            return None
        try:
            return self.wlan.status("rssi")
        except OSError:  # not connected
            return None

    def battery(self):
        if self.adc is None:
            return None, None
        mv = self.adc.read_uv() * 2 // 1000
        pct = max(0, min(100, (mv - 3300) * 100 // 900))
        return mv, pct

    def dns_server(self):
        w = self.wlan
        if w is None or not w.isconnected():
            return None
        try:
            import network
            return network.ipconfig("dns"), 53  # MicroPython >= 1.24
        except (AttributeError, ValueError, OSError):
            return w.ifconfig()[3], 53

    def rtc_set(self, utc_ms):
        tm = time.gmtime(utc_ms // 1000 - clock.EPOCH_S)
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))

    def wdt_start(self):
        self._wdt = machine.WDT(timeout=30000)

    def wdt_feed(self):
        if self._wdt:
            self._wdt.feed()

    def tasks(self, kiosk):
        import net  # DNS and NTP: at boot, while the heap is whole

        return (net.ntp_task(self, kiosk),)
