# Which firmware to run: the one in the flash's root (put there over USB by
# `borne firmware deploy`) or an update installed over the air in the slot
# folder /fwa or /fwb. boot.json names the slot; while an update is on
# trial it also holds the boots it has left. main.py (and the simulator's
# launcher) call select() before importing the firmware: this file and
# main.py are never replaced over the air, so a release that fails to start
# still comes back here, and after its last boot the previous one runs again.
import json
import os

BOOT = "/boot.json"


def state(base):
    """boot.json as a dict ({} when there is none or it is unreadable)."""
    try:
        with open(base + BOOT) as f:
            st = json.load(f)
        return st if isinstance(st, dict) else {}
    except (OSError, ValueError):
        return {}


def save(base, st):
    # Written whole under another name, then renamed: the old or the new.
    with open(base + BOOT + ".new", "w") as f:
        json.dump(st, f)
    os.rename(base + BOOT + ".new", base + BOOT)


def roll_back(base, st, why):
    """Go back to the previous firmware and remember the release that failed."""
    failed = st.get("failed") or []
    failed = failed[-3:] + [st.get("id")]
    back = {"slot": st.get("prev"), "id": st.get("prev_id"), "failed": failed,
            "rolled_back": why}
    save(base, back)
    return back


def select(base):
    """The slot folder to run from (a path under `base`), or None for the
    root's firmware. Counts a boot of a release on trial."""
    st = state(base)
    if "boots" in st:  # on trial: not yet reported healthy
        if st["boots"] <= 0:
            st = roll_back(base, st, "no healthy report within %d boots" % st.get("of", 0))
        else:
            st["boots"] -= 1
            save(base, st)
    slot = st.get("slot")
    if slot:
        try:
            os.stat(base + "/" + slot)
        except OSError:
            return None
        return base + "/" + slot
    return None
