# File-backed flash for the unix port: a LittleFS block device (extended
# interface) whose every program and erase goes straight to the image file,
# so killing the process is a power cut. It counts bytes programmed and blocks
# erased, and can cut the power itself at the k-th write for tests.
# LittleFS may call these methods with the heap locked: they must not allocate.
import os

BLOCK_SIZE = 4096
EIO = -5


class FileFlash:
    def __init__(self, path, blocks=512, cut_at=0, torn=False):
        self.block_size = BLOCK_SIZE
        self.ff = bytearray(b"\xff" * 256)  # erased bytes, written 16 times per block
        try:
            size = os.stat(path)[6]
            self.blocks = size // BLOCK_SIZE
            self.fresh = False
        except OSError:
            self.blocks = blocks
            self.fresh = True
            with open(path, "wb") as f:
                for _ in range(blocks * BLOCK_SIZE // 256):
                    f.write(self.ff)
        self.f = open(path, "r+b")
        self.one = bytearray(1)
        self.programmed = 0  # bytes
        self.erased = 0  # blocks
        self.writes = 0  # program and erase operations
        self.cut_at = cut_at
        self.torn = torn
        self.dead = False  # power is cut: refuse everything from now on

    def _cut(self, block, off, buf):
        # The k-th write: optionally leave half of it on flash, then die.
        if self.torn and buf is not None:
            self.f.seek(block * BLOCK_SIZE + off)
            for i in range(len(buf) // 2):
                self.one[0] = buf[i]
                self.f.write(self.one)
        self.dead = True
        return EIO

    def readblocks(self, block, buf, off=0):
        if self.dead:
            return EIO
        self.f.seek(block * BLOCK_SIZE + off)
        self.f.readinto(buf)
        return 0

    def writeblocks(self, block, buf, off=0):
        if self.dead:
            return EIO
        self.writes += 1
        if self.writes == self.cut_at:
            return self._cut(block, off, buf)
        self.f.seek(block * BLOCK_SIZE + off)
        self.f.write(buf)
        self.programmed += len(buf)
        return 0

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return BLOCK_SIZE
        if op == 6:  # erase
            if self.dead:
                return EIO
            self.writes += 1
            if self.writes == self.cut_at:
                return self._cut(arg, 0, None)
            self.f.seek(arg * BLOCK_SIZE)
            for _ in range(BLOCK_SIZE // 256):
                self.f.write(self.ff)
            self.erased += 1
            return 0
        if op == 3:  # sync
            return 0
        return 0

    def close(self):
        self.f.close()


def mount(base):
    """The flash image (BORNE_FLASH, BORNE_FLASH_BLOCKS, BORNE_FLASH_PROG, BORNE_POWERCUT; see
    CONTROL.md) as LittleFS at `base`, formatted on first use; its FileFlash.
    Mounted before any firmware import: a firmware deployed onto it wins."""
    import gc

    import vfs
    cut = os.getenv("BORNE_POWERCUT") or ""
    cut_at = int(cut.split(":")[0]) if cut else 0
    gc.collect()
    before = gc.mem_alloc()
    dev = FileFlash(os.getenv("BORNE_FLASH") or "borne-flash.img",
                    int(os.getenv("BORNE_FLASH_BLOCKS") or "512"), cut_at, cut.endswith(":torn"))
    gc.collect()
    dev.heap = gc.mem_alloc() - before  # the block device's own heap (C on a board)
    # Program size: 32 B as the ESP32 port mounts LittleFS, 256 B as the rp2 port.
    prog = int(os.getenv("BORNE_FLASH_PROG") or "32")
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev, readsize=32, progsize=prog, lookahead=32)
    fs = vfs.VfsLfs2(dev, readsize=32, progsize=prog, lookahead=32, mtime=False)
    vfs.mount(fs, base)
    return dev


def unmount(base, dev):
    import vfs
    try:
        vfs.umount(base)
    except OSError:
        pass
    dev.close()
