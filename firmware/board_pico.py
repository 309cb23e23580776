# Raspberry Pi Pico board (no radio): the Pico W's buttons, LEDs, watchdog
# and RTC, no network. The kiosk runs offline and keeps every vote in its
# journal until a board with a network takes over the flash. The RTC keeps
# UTC across soft and watchdog resets once a source set it (board_base).
import board_picow


class Board(board_picow.Board):
    name = "pico"
    has_network = False

    def wifi(self, prov):
        pass  # no radio on this board

    def net_up(self):
        return False

    def tasks(self, kiosk):
        return ()  # no NTP without a network
