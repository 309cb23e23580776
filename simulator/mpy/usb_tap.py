# The console's reader on the simulated USB serial (see usb_repl.py): lines
# for firmware/console.py, and a Ctrl-C that stops the firmware for the REPL,
# as KeyboardInterrupt does on a board. Kept small: it is loaded with the firmware.
import asyncio
import sys

CTRL_C = 3


class ConsoleTap:
    """The console's line reader (firmware/console.py), one byte at a time so
    that a Ctrl-C is seen even without an end of line."""

    def __init__(self, board):
        self.board = board
        self.reader = asyncio.StreamReader(sys.stdin.buffer)
        self.line = bytearray()

    async def readline(self):
        while True:
            c = await self.reader.read(1)
            if not c:
                return b""
            if c[0] == CTRL_C:
                self.line = bytearray()
                self.board.usb_break = True
                self.board.request_reboot()  # stops every task: the REPL takes the port
                while True:  # read nothing more: what follows is for the REPL
                    await asyncio.sleep_ms(1000)
            self.line.extend(c)
            if c[0] == 10:
                line = bytes(self.line)
                self.line = bytearray()
                if line.startswith(b"sim "):
                    self.sim(line)
                    continue
                return line

    def sim(self, line):
        # The simulated board's own lines (fast-forward, heap share), not the
        # firmware's console: see CONTROL.md.
        import json

        import simlines
        try:
            ans = "OK " + json.dumps(simlines.command(self.board, line.decode().split()[1:]))
        except ValueError as e:
            ans = "ERR usage %s" % (e,)
        simlines.forget()
        self.board.console_write(ans)
