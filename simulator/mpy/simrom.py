# The firmware's .mpy build as a ROMFS image (BORNE_FW_ROMFS, CONTROL.md),
# mounted at /rom: imported from there, its bytecode runs in place, as on a
# board whose firmware is built with ROMFS and maps the image from flash. The
# unix port has no ROM: the image is read into the heap, and kiosk.py counts
# it in the board's share. Imported only for that form.
import os

import vfs

with open(os.getenv("BORNE_FW_ROMFS"), "rb") as _f:
    vfs.mount(vfs.VfsRom(_f.read()), "/rom")
