# Flash images of the power-cut scripts (run under MicroPython).
import os


def copy(src, dst):
    """Copy an image file through one 4 KiB buffer (a saved state to go back to)."""
    buf = bytearray(4096)
    with open(src, "rb") as a, open(dst, "wb") as b:
        while True:
            n = a.readinto(buf)
            if not n:
                break
            b.write(buf if n == len(buf) else buf[:n])


def discard(path):
    """Remove an image left by an earlier run, if there is one."""
    try:
        os.remove(path)
    except OSError:
        pass
