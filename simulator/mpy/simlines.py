# The simulated board's rarely used parts, loaded when used and forgotten
# after (so they take no heap while the kiosk runs): its `sim ...` console
# lines (CONTROL.md), its RTC kept across a reset in a file next to the
# flash image, read at boot and written at a reset, and the boot itself:
# the provisioning to seed a blank flash with and main.py's choice of
# firmware (firmware/bootsel.py).
import os
import sys


def seed():
    dev = os.getenv("BORNE_DEVICE")
    s = {"device": dev, "broker": os.getenv("BORNE_BROKER"),
         "user": os.getenv("BORNE_USER"), "secret": os.getenv("BORNE_PASS"),
         "site": os.getenv("BORNE_SITE")}
    b = os.getenv("BORNE_BUTTONS")
    if b:
        s["buttons"] = int(b)
    return s


def boot(fs):
    """The provisioning to seed, once the slot folder that boot.json names
    (an update installed over the air) is first on the path; None when the
    release there fails to start (on a board main.py resets it: the next
    boot counts against the release's trial). A kiosk never updated over
    the air (no boot.json) pays one file lookup."""
    if sys.path[0] != fs:
        del sys.path[0]  # the slot of the boot before
    try:
        os.stat(fs + "/boot.json")
    except OSError:
        return seed()
    import bootsel  # from the flash's root or the build: never from a slot

    path = bootsel.select(fs)
    del sys.modules["bootsel"]
    if path:
        sys.path.insert(0, path)
        try:
            import kiosk_app  # noqa: F401 - as main.py: a release that cannot start
        except Exception as e:  # noqa: BLE001
            print("LOG firmware failed to start: %r" % (e,))
            import time

            time.sleep(1)  # a board's reset takes about that
            return None
    return seed()


def command(board, words):
    """Simulator-only console lines (`sim ...`), answered like the console's."""
    if words[:1] == ["idle"] and len(words) == 2 and words[1].isdigit():
        # Time passes with the board idle: its ticks and RTC move on.
        board.skew_ms += int(words[1]) * 1000
        return {"ticks_ms": board.ticks_ms(), "rtc_s": board.rtc_s()}
    if words == ["heap"]:
        import kiosk_app
        # form: the firmware loaded as a board gets it (.mpy) or from source;
        # modules: those loaded now (this one apart).
        return {"board_share": board.share,
                "form": ("romfs" if kiosk_app.__file__.startswith("/rom/") else
                         "mpy" if kiosk_app.__file__.endswith(".mpy") else "py"),
                "modules": sorted(n for n in sys.modules if n != __name__)}
    raise ValueError("sim idle SECONDS | sim heap")


def rtc_path():
    return (os.getenv("BORNE_FLASH") or "borne-flash.img") + ".rtc"


def load_rtc(board):
    # Kept across a reset (written at the reset), gone after a power cut:
    # read once, then removed.
    try:
        with open(rtc_path()) as f:
            board.rtc_delta, board.skew_ms = [int(x) for x in f.read().split()]
        os.remove(rtc_path())
    except (OSError, ValueError):
        pass


def save_rtc(board):
    with open(rtc_path(), "w") as f:
        f.write("%d %d" % (board.rtc_delta, board.skew_ms))


def forget():
    del sys.modules[__name__]

