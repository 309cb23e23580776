# The simulated board's USB serial, as MicroPython's own REPL drives it on a
# real board, so that mpremote (the official tool) works on a simulated kiosk:
# Ctrl-C stops the firmware (a KeyboardInterrupt on a board), Ctrl-A enters
# the raw REPL that exec()s what it receives, Ctrl-D soft-resets.
# Framing as in MicroPython's pyexec.c: raw REPL, raw-paste mode, soft reset.
# Imported only once the firmware has stopped (usb_tap.py saw the Ctrl-C):
# its memory is then free.
import sys

CTRL_A = 1
CTRL_B = 2
CTRL_C = 3
CTRL_D = 4
CTRL_E = 5
RAW_BANNER = "raw REPL; CTRL-B to exit\r\n"
PASTE_WINDOW = 128


def _out(s):
    sys.stdout.write(s)


def _banner():
    _out("MicroPython v%d.%d.%d on the Borne simulated board; Ctrl-A: raw REPL, "
         "Ctrl-D: soft reset\r\n>>> " % sys.implementation.version[:3])


class Repl:
    def __init__(self):
        self.inp = sys.stdin.buffer
        self.scope = {"__name__": "__main__"}

    def byte(self):
        b = self.inp.read(1)
        if not b:
            raise SystemExit(0)  # the port is gone: the simulator stopped us
        return b[0]

    def run(self):
        """Friendly REPL until a soft reset there asks for the firmware."""
        _out("\r\nKeyboardInterrupt\r\n")
        _banner()
        line = bytearray()
        while True:
            c = self.byte()
            if c == CTRL_A:
                self.raw()
                _out("\r\n")
                _banner()
                line = bytearray()
            elif c == CTRL_D and not line:
                _out("MPY: soft reboot\r\n")
                return
            elif c == CTRL_C:
                line = bytearray()
                _out("\r\nKeyboardInterrupt\r\n>>> ")
            elif c == CTRL_B:
                _out("\r\n")
                _banner()
                line = bytearray()
            elif c in (10, 13):
                _out("\r\n")
                if line.strip():
                    self.friendly_line(bytes(line))
                line = bytearray()
                _out(">>> ")
            elif c >= 32:
                line.append(c)
                sys.stdout.buffer.write(bytes((c,)))  # echo, as a terminal expects

    def friendly_line(self, src):
        try:
            try:
                code = compile(src, "<stdin>", "eval")
            except SyntaxError:
                exec(src, self.scope)
                return
            value = eval(code, self.scope)
            if value is not None:
                _out(repr(value) + "\r\n")
        except Exception as e:  # noqa: BLE001 - shown to the user, as a REPL does
            sys.print_exception(e, sys.stdout)

    def raw(self):
        """Raw REPL: code ended by Ctrl-D, answered OK, output, EOF, error, EOF."""
        _out(RAW_BANNER + ">")
        code = bytearray()
        while True:
            c = self.byte()
            if c == CTRL_B:
                return
            if c == CTRL_C:
                code = bytearray()
            elif c == CTRL_A:
                if len(code) == 2 and code[0] == CTRL_E:
                    self.execute(self.paste())
                else:
                    _out(RAW_BANNER)
                code = bytearray()
                _out(">")
            elif c == CTRL_D:
                _out("OK")
                if not code:
                    # Soft reset in raw mode: a fresh scope, still in the raw REPL.
                    self.scope = {"__name__": "__main__"}
                    _out("\r\nMPY: soft reboot\r\n" + RAW_BANNER + ">")
                    continue
                self.execute(bytes(code))
                code = bytearray()
                _out(">")
            else:
                code.append(c)

    def paste(self):
        """Raw-paste mode: flow control by windows, data ended by Ctrl-D."""
        sys.stdout.buffer.write(bytes((ord("R"), 1, PASTE_WINDOW & 0xFF, PASTE_WINDOW >> 8)))
        data = bytearray()
        got = 0
        while True:
            c = self.byte()
            if c == CTRL_D:
                _out("\x04")
                return bytes(data)
            data.append(c)
            got += 1
            if got == PASTE_WINDOW:
                got = 0
                _out("\x01")

    def execute(self, src):
        try:
            exec(src, self.scope)
            _out("\x04")
        except BaseException as e:  # noqa: BLE001 - the error part of the answer
            _out("\x04")
            sys.print_exception(e, sys.stdout)
        _out("\x04")


def serve(fs_base):
    """The REPL after Ctrl-C stopped the firmware, with the flash as the
    current folder (a board's root). Returns at a soft reset from the
    friendly REPL, when the firmware must start again."""
    import os
    here = os.getcwd()
    os.chdir(fs_base)
    try:
        Repl().run()
    finally:
        os.chdir(here)
