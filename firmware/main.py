# Kiosk entry point on the device: pick the board file for this port and run.
# The simulator supplies its own board instead (simulator/mpy/kiosk.py).
import sys

# Every kiosk module is at the root of the flash, beside main.py, and the
# ports' own Python modules are frozen: without /lib on the path, importing
# a built-in module (json, struct, ...), which MicroPython first looks for on
# the filesystem, takes three LittleFS lookups fewer (a sixth of the
# instructions from power on to the first vote on the emulated Pico).
if "/lib" in sys.path:
    sys.path.remove("/lib")


import os  # noqa: E402

# An update installed over the air runs from its slot folder, which
# bootsel.py picks; boot.json exists only once an update came, so a kiosk
# never updated over the air does not load it. This file and the root's
# bootsel.py stay as `borne firmware deploy` wrote them.
try:
    os.stat("/boot.json")
    _slot = True
except OSError:
    _slot = None
if _slot:
    import bootsel

    _slot = bootsel.select("")
    del sys.modules["bootsel"], bootsel  # its heap back: the firmware needs it
    if _slot:
        sys.path.insert(0, _slot)
try:
    import kiosk_app
except Exception as e:  # noqa: BLE001
    if not _slot:
        raise
    # A release that cannot start: reset, the next boot counts against its trial.
    print("firmware failed to start: %r" % (e,))
    import machine

    machine.reset()

if sys.platform == "esp32":
    import board_esp32 as board_mod
elif sys.platform == "rp2":
    if "Pico W" in os.uname().machine:
        import board_picow as board_mod
    else:
        import board_pico as board_mod  # no radio: the kiosk runs offline
else:
    raise SystemExit("no board file for %s; use simulator/mpy/kiosk.py" % sys.platform)

try:
    kiosk_app.run(board_mod.Board())
except SystemExit:
    # Ctrl-C on the USB serial (mpremote, `borne firmware deploy`): stay at the
    # REPL. Uncaught, SystemExit soft-resets (MicroPython >= 1.24) and main.py
    # would start the firmware again.
    pass
else:
    # The console's `reboot` ended the tasks, or an error stopped the kiosk
    # (logged, after a delay): restart the whole board.
    import machine

    machine.reset()
