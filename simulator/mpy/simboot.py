# The simulated board's boot: the provisioning to seed a blank flash with
# (CONTROL.md) and main.py's choice of firmware (firmware/bootsel.py).
# Loaded at each boot and forgotten before the firmware runs, so it takes
# no heap from the kiosk; a kiosk never updated over the air (no boot.json)
# pays one file lookup.
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


def start(fs):
    """The provisioning to seed, after putting the slot folder that
    boot.json names first on the path; None when the release there fails
    to start (on a board main.py resets it: the next boot counts against
    the release's trial)."""
    if sys.path[0].startswith(fs + "/fw"):
        del sys.path[0]  # the slot of the boot before
    try:
        os.stat(fs + "/boot.json")
    except OSError:
        return seed()  # never updated over the air
    import bootsel  # from the flash's root or the build: never from a slot

    path = bootsel.select(fs)
    del sys.modules["bootsel"]
    if not path:
        return seed()
    sys.path.insert(0, path)
    try:
        import kiosk_app  # noqa: F401 - as main.py: a release that cannot start
    except Exception as e:  # noqa: BLE001
        print("LOG firmware failed to start: %r" % (e,))
        import time

        time.sleep(1)  # a board's reset takes about that
        return None
    return seed()
