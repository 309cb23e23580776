# Run the real firmware on the simulated board under the MicroPython unix port:
#   micropython -X heapsize=104k simulator/mpy/kiosk.py
# See CONTROL.md for the environment, the control lines and the console.
import os
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_root = _here + "/../.."
# The flash first (SimBoard.fs_base): a firmware deployed onto it with
# mpremote (`borne firmware deploy`) wins over the one the board starts with:
# BORNE_FW_MPY's .mpy build (what `borne firmware build` gives a board, the
# simulated board's modules in its sim/), else the source tree.
FS = "/flash"
# BORNE_FW_ROMFS: that build as a ROMFS image, mounted at /rom (simrom.py).
_mpy = "/rom" if os.getenv("BORNE_FW_ROMFS") else os.getenv("BORNE_FW_MPY")
if _mpy:
    sys.path[:0] = [FS, _mpy, _mpy + "/sim"]
else:
    sys.path[:0] = [FS, _root + "/firmware", _root + "/protocol", _here]


def grown(before):
    # Heap taken since `before` (after a collection).
    import gc
    gc.collect()
    return gc.mem_alloc() - before


def boot(dev, capacity, share, depth=8):
    """Import the firmware (from the flash first) and run it until it stops;
    True when a Ctrl-C on the USB serial stopped it."""
    if depth:
        # Run it deeper in the C stack than the REPL will run: the GC scans
        # the stack conservatively, and a stale pointer left where the REPL's
        # frames later lie would keep the stopped firmware's memory alive.
        return boot(dev, capacity, share, depth - 1)
    import gc

    # The provisioning to seed, and the firmware an update over the air
    # installed, if any (simlines.py).
    seed = __import__("simlines").boot(FS)
    del sys.modules["simlines"]
    if seed is None:
        return False  # that firmware failed to start: the board resets
    gc.collect()  # what mounting (or formatting) the flash left behind
    # Import one module at a time with a collection in between, the largest
    # first: compiling a source (without BORNE_FW_MPY) needs transient memory
    # in proportion to it (about 5 times its size), and the heap only fills
    # from here on. A .mpy needs no compiler.
    for name in ("kiosk_wire", "journal", "sync", "simboard", "mqtt", "kiosk_app",
                 "settings", "board_base", "console", "clock"):
        __import__(name)
        gc.collect()
    before = gc.mem_alloc()
    import usb_tap  # noqa: F401 - the console's reader, C on a board
    share += grown(before)
    import kiosk_app
    import simboard

    board = simboard.SimBoard()
    board.flash = dev
    # What a real board has in C, not on the heap: the block device and the
    # USB console reader (bench/bench_firmware.py shows it apart).
    board.share = share + dev.heap
    try:
        kiosk_app.run(board, capacity, seed)
    except OSError:
        board.check_power()  # a flash error after a simulated power cut
        raise
    return board.usb_break


def repl(keep):
    # MicroPython's REPL for mpremote, in the memory the firmware has left.
    forget(keep)
    import usb_repl
    usb_repl.serve(FS)
    forget(keep)  # as a soft reset does: the next boot imports the firmware afresh


def main():
    import gc
    gc.collect()
    before = gc.mem_alloc()
    if _mpy == "/rom":
        import simrom  # noqa: F401 - the image is the board's flash: its share
    import flash

    share = grown(before)
    keep = list(sys.modules)
    cap = os.getenv("BORNE_CAPACITY")
    capacity = int(cap) if cap else None  # None: what the flash holds
    while True:
        dev = flash.mount(FS)  # before the firmware imports: they may come from it
        try:
            if boot(dev, capacity, share):
                repl(keep)  # until a soft reset
        finally:
            if not dev.dead:
                flash.unmount(FS, dev)
        if os.getenv("BORNE_EXIT_ON_REBOOT") == "1":
            return
        forget(keep)  # a reboot imports the firmware afresh (an update may have come)


def forget(keep):
    # Drop every module loaded since start (firmware, asyncio and the tasks
    # it still holds) so their memory is free and the next import reads the
    # files again, those mpremote may just have replaced.
    import gc
    for name in list(sys.modules):
        if name not in keep:
            del sys.modules[name]
    gc.collect()


main()
