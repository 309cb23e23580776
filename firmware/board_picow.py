# Raspberry Pi Pico W board: same roles as the ESP32 board, rp2 pins (the
# port's epoch, 1970 here, is read from time.gmtime(0) in clock.py).
import board_esp32
import machine

PINS = (10, 11, 12, 13)


class Board(board_esp32.Board):
    name = "picow"
    default_pins = PINS
    led_thanks_pin = "LED"
    led_offline_pin = 15

    def open_adc(self):
        try:
            return machine.ADC(29)  # VSYS / 3
        except ValueError:
            return None

    def battery(self):
        if self.adc is None:
            return None, None
        mv = self.adc.read_u16() * 3 * 3300 // 65535
        pct = max(0, min(100, (mv - 3300) * 100 // 900))
        return mv, pct

    def wdt_start(self):
        self._wdt = machine.WDT(timeout=8000)  # the rp2 maximum is about 8.3 s
