# Power cut at the k-th block-device write of an update (download of every
# chunk, the image's check, the install into the slot and the switch of
# boot.json), for every k, under the MicroPython unix port:
#   micropython tests/mpy/ota_powercut.py ROOT IMG clean|torn [tamper]
# A small release (three files) is offered as accepted (its signature was
# checked before the download: ota.json written); each chunk the updater asks
# for arrives at once. After each cut the image is mounted again and checked:
# boot.json is readable and names either no slot (the old firmware) or a slot
# whose every file matches the manifest, and the download on flash is a
# prefix of the release. Then the update goes on, uncut, and must end
# installed. tamper: one chunk comes with a byte changed, once; the image's
# hash refuses it, it is fetched again, and the install is right.
# Prints one JSON line {"cuts": N, "failures": [...], "writes": W}.
import asyncio
import binascii
import hashlib
import json
import sys

import vfs

ROOT = sys.argv[1]
sys.path[:0] = [ROOT + "/firmware", ROOT + "/protocol", ROOT + "/simulator/mpy"]
import bootsel  # noqa: E402
import flash  # noqa: E402
import ota  # noqa: E402
from images import copy, discard  # noqa: E402

IMG = sys.argv[2]
TORN = sys.argv[3] == "torn"
TAMPER = len(sys.argv) > 4 and sys.argv[4] == "tamper"
OPTS = {"readsize": 32, "progsize": 32, "lookahead": 32}
FS = "/fl"
RID = "0123456789abcdef"
CHUNK = 512


def release():
    files = []
    blob = b""
    for i, (name, n) in enumerate((("kiosk_app.mpy", 1500), ("sync.mpy", 700),
                                   ("version.mpy", 90))):
        data = bytes((j * 31 + i * 7) & 255 for j in range(n))
        files.append([name, n, binascii.hexlify(hashlib.sha256(data).digest()).decode()])
        blob += data
    man = {"fw": "9.9.9", "size": len(blob), "files": files,
           "sha256": binascii.hexlify(hashlib.sha256(blob).digest()).decode()}
    return json.dumps(man), blob, files


MANIFEST, BLOB, FILES = release()


class Kiosk:
    class settings:
        base = FS
        prov = {}

    class clock:
        @staticmethod
        def boot_ms():
            import time
            return time.ticks_ms()

    class board:
        rebooted = False

        @classmethod
        def request_reboot(cls):
            cls.rebooted = True

    def __init__(self):
        self.vote_event = asyncio.Event()

    def log(self, msg):
        pass


class Client:
    """Answers each fetch with its chunk at once (one tampered, if asked)."""
    tampered = False

    def __init__(self, u):
        self.u = u

    async def publish(self, topic, payload, qos=0, retain=False):
        if not topic.endswith("/fetch"):
            return
        m = json.loads(payload)
        data = BLOB[m["off"]:m["off"] + m["n"]]
        if TAMPER and not Client.tampered and m["off"] >= 1024:
            data = bytearray(data)
            data[3] ^= 0x40
            Client.tampered = True
        self.u.on_chunk(ota_wire_chunk(m["off"], data))


def ota_wire_chunk(off, data):
    import struct
    return struct.pack(">8sI", binascii.unhexlify(RID), off) + bytes(data)


def topic(name):
    return "borne/v1/k1/" + name


def mount(cut_at=0):
    dev = flash.FileFlash(IMG, 64, cut_at, TORN)
    if dev.fresh:
        vfs.VfsLfs2.mkfs(dev, **OPTS)
    vfs.mount(vfs.VfsLfs2(dev, mtime=False, **OPTS), FS)
    return dev


def unmount(dev):
    try:
        vfs.umount(FS)
    except OSError:
        pass
    dev.close()


def offer():
    return {"id": RID, "manifest": MANIFEST.encode(), "sig": b"\0" * 64, "chunk": CHUNK,
            "boots": 3, "trial_s": 600}


async def run(dev):
    """The update from wherever the flash says, until installed or the cut."""
    k = Kiosk()
    Kiosk.board.rebooted = False
    u = ota.Updater(k)
    c = Client(u)
    try:
        await u._accept(offer())
        for _ in range(400):
            if dev.dead or Kiosk.board.rebooted or u.state not in ("downloading",):
                break
            await u.step(c, topic)
    except OSError:
        if not dev.dead:
            raise
    return u


def check_cut():
    """After a cut: boot.json and the download as the rules say."""
    problems = []
    st = bootsel.state(FS)
    try:
        raw = open(FS + "/boot.json").read()
        if json.loads(raw) != st:
            problems.append("boot.json unreadable: %r" % raw)
    except OSError:
        pass
    if st.get("slot"):
        problems += check_slot(st)
    try:
        with open(FS + "/ota.bin", "rb") as f:
            got = f.read()
        if BLOB[:len(got)] != got and not TAMPER:
            problems.append("download on flash is not a prefix of the release (%d B)" % len(got))
    except OSError:
        pass
    return problems


def check_slot(st):
    problems = []
    if st.get("slot") != "fwa" or st.get("id") != RID:
        problems.append("boot.json names %r" % (st,))
    for name, _n, sha in FILES:
        try:
            with open(FS + "/fwa/" + name, "rb") as f:
                data = f.read()
        except OSError:
            problems.append("slot file %s missing" % name)
            continue
        if binascii.hexlify(hashlib.sha256(data).digest()).decode() != sha:
            problems.append("slot file %s differs" % name)
    return problems


def finish():
    """Mount uncut, boot (bootsel), run the update to its end, check."""
    dev = mount()
    bootsel.select(FS)
    Client.tampered = True  # the cut run may have tampered already: not twice
    u = asyncio.run(run(dev))
    problems = []
    if not (Kiosk.board.rebooted or u.state == "trial"):
        problems.append("update did not end installed: %s %s" % (u.state, u.error))
    st = bootsel.state(FS)
    problems += check_slot(st)
    if "boots" not in st:
        problems.append("installed release not on trial: %r" % (st,))
    unmount(dev)
    return problems


def main():
    discard(IMG)
    dev = mount()
    with open(FS + "/ota.json", "w") as f:  # the offer accepted: signature checked
        json.dump({"id": RID, "manifest": MANIFEST}, f)
    unmount(dev)
    copy(IMG, IMG + ".base")
    dev = mount()
    Client.tampered = False
    u = asyncio.run(run(dev))
    total = dev.writes
    first = [] if Kiosk.board.rebooted else ["uncut run ended %s %s" % (u.state, u.error)]
    if TAMPER and not (Client.tampered and u.bad == 1):
        first.append("the tampered chunk was not caught (%d bad images)" % u.bad)
    unmount(dev)
    failures = first
    cuts = 0
    for k in range(1, total + 1):
        copy(IMG + ".base", IMG)
        Client.tampered = False
        dev = mount(k)
        asyncio.run(run(dev))
        unmount(dev)
        cuts += 1
        dev = mount()
        p = check_cut()
        unmount(dev)
        p += finish()
        if p:
            failures.append("cut at write %d: %s" % (k, "; ".join(p)))
    print(json.dumps({"cuts": cuts, "failures": failures[:10], "writes": total}))


main()
