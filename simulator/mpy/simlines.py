# The simulated board's rarely used parts, loaded when used and forgotten
# after (so they take no heap while the kiosk runs): its `sim ...` console
# lines (CONTROL.md) and its RTC kept across a reset in a file next to the
# flash image, read at boot and written at a reset.
import os
import sys


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
                "form": "mpy" if kiosk_app.__file__.endswith(".mpy") else "py",
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

