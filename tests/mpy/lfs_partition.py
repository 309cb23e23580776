# Can a LittleFS formatted on part of a flash be mounted over the whole of it?
#   micropython tests/mpy/lfs_partition.py ROOT IMG
# The rp2 port's frozen _boot.py mounts LittleFS over its whole flash region
# and formats it when the mount fails: if LittleFS refused such a partition,
# the stock firmware leaves no flash outside LittleFS (firmware/README.md,
# Flash cost). Prints one JSON line.
import json
import sys

import vfs

sys.path.insert(0, sys.argv[1] + "/simulator/mpy")
import flash  # noqa: E402

OPTS = {"readsize": 32, "progsize": 256, "lookahead": 32}
IMG = sys.argv[2]

dev = flash.FileFlash(IMG, 32)
dev.blocks = 16  # the first half, as a partition of the same flash
vfs.VfsLfs2.mkfs(dev, **OPTS)
vfs.mount(vfs.VfsLfs2(dev, **OPTS), "/part")
with open("/part/kept", "w") as f:
    f.write("vote")
vfs.umount("/part")
dev.close()

whole = flash.FileFlash(IMG)  # its size: all 32 blocks, as _boot.py sees the flash
try:
    vfs.VfsLfs2(whole, **OPTS)
    whole_mount = "mounted"
except OSError as e:
    whole_mount = "OSError %d" % e.errno
whole.close()

part = flash.FileFlash(IMG)
part.blocks = 16
vfs.mount(vfs.VfsLfs2(part, **OPTS), "/part")
with open("/part/kept") as f:
    kept = f.read()
print(json.dumps({"whole": whole_mount, "partition": kept}))
