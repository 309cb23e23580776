# Updates over the air, loaded only while the server offers a release (the
# retained `ota` message) or a new firmware is on trial. The offer's
# signature is checked first (ed25519.py, the key pinned at provisioning);
# then the image comes in chunks over MQTT, each appended to /ota.bin, whose
# size is the progress: a power cut or an outage loses at most the chunk
# being written, and the download goes on from there. The whole image and
# each file are checked against the signed manifest's SHA-256s, the files are
# written into the slot folder not in use, and boot.json is switched to it
# by one rename (bootsel.py). The kiosk then restarts on the new firmware,
# which has a bounded number of boots and seconds to hear from the server.
import asyncio
import binascii
import gc
import hashlib
import json
import os

from version import FW

OFFER = "/ota.json"
IMAGE = "/ota.bin"
SLOTS = ("fwa", "fwb")
FETCH_MS = 3000  # a chunk not arrived by then is asked for again
HASH_TRIES = 3  # images that fail their hash before the kiosk gives up
_BUF = 512


def _drop(name):
    # A module's code back to the heap until it is imported again: ota_wire
    # and bootsel (imported in the functions that use them) are dropped
    # before the manifest is read and the signature checked, the peaks.
    import sys
    sys.modules.pop(name, None)
    gc.collect()


def _hex(b):
    return binascii.hexlify(b).decode()


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _saved(base):
    # The offer accepted (its signature checked): {"id", "manifest"}.
    try:
        with open(base + OFFER) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _sha(path, off, n, buf):
    # SHA-256 of n bytes of `path` from `off`, read through buf.
    h = hashlib.sha256()
    mv = memoryview(buf)
    with open(path, "rb") as f:
        f.seek(off)
        while n > 0:
            got = f.readinto(mv[:min(n, len(buf))])
            if not got:
                break
            h.update(mv[:got])
            n -= got
    return _hex(h.digest()) if n == 0 else None


class Updater:
    def __init__(self, k):
        self.k = k
        self.base = k.settings.base
        self.offer = None  # the offer being worked on (decoded)
        self.size = 0  # bytes of its image
        self.sha = None  # the image's SHA-256 (hex)
        self.pending = None  # an offer received, not yet looked at
        self.state = "idle"
        self.error = None
        self.got = 0  # bytes of the image on flash
        self.asked = None  # (offset, boot_ms) of the fetch in flight
        self.bad = 0  # images that failed their hash
        self.refused = []  # release ids whose signature failed
        self.shown = None  # the last report published
        self.rid = None  # the release the reports are about
        self.trial = None  # seconds a firmware on trial has to hear from the server
        self.link = None  # id() of the MQTT client of the last turn

    def log(self, msg):
        self.k.log("update: " + msg)

    # -- messages (from the MQTT reader) ------------------------------------

    def on_offer(self, payload):
        import ota_wire as ow
        o = ow.decode_offer(payload)
        if o is None:  # withdrawn: a download stops; a release on trial stays on trial
            if self.offer is None and self.state == "idle":
                self.shown = ("idle", None, 0, None)  # nothing to say: keep the last report
            if self.offer and self.state == "downloading":
                self.log("offer withdrawn at %d of %d bytes" % (self.got, self.size))
                _remove(self.base + IMAGE)
                _remove(self.base + OFFER)
                self.state = "idle"
                self.got = self.size = 0
                self.rid = None
            self.offer = None
            return
        if self.offer is None or o["id"] != self.offer["id"]:
            self.pending = o
            self.k.vote_event.set()

    def on_chunk(self, payload):
        import ota_wire as ow
        rid, off, data = ow.decode_chunk(payload)
        if self.state != "downloading" or rid != self.offer["id"] or off != self.got:
            return  # a late or repeated chunk
        if len(data) > min(self.offer["chunk"], self.size - self.got):
            raise ow.OtaError("chunk of %d bytes at %d" % (len(data), off))
        try:
            with open(self.base + IMAGE, "ab") as f:
                f.write(data)
        except OSError as e:
            self._fail("cannot write the image: %r" % (e,))
            _remove(self.base + IMAGE)
            return
        self.got += len(data)
        self.asked = None
        self.k.vote_event.set()  # wake the sync task: ask for the next one

    # -- the sync task's turn -------------------------------------------------

    async def step(self, client, topic):
        if id(client) != self.link:  # a new connection: what was in flight is lost
            self.link = id(client)
            self.asked = None
            self.shown = None
        if self.pending:
            o = self.pending
            self.pending = None
            try:
                await self._accept(o)
            except MemoryError:
                self.offer = None  # taken again when the offer comes back
                raise
        if self.state == "downloading":
            if self.got >= self.size:
                await self._finish(client, topic)
            else:
                now = self.k.clock.boot_ms()
                if self.asked is None or now - self.asked[1] > FETCH_MS:
                    if self.asked:
                        self.log("no chunk at %d: asking again" % self.got)
                    n = min(self.offer["chunk"], self.size - self.got)
                    self.asked = (self.got, now)
                    import ota_wire as ow
                    await client.publish(topic("fetch"),
                                         ow.encode_fetch(self.offer["id"], self.got, n), 0)
        await self.report(client, topic)

    async def report(self, client, topic, force=False):
        size = self.size
        # Progress in tenths: a report per 10% of the image, and at each state.
        rid = self.rid
        shown = (self.state, rid, self.got * 10 // (size or 1), self.error)
        if shown != self.shown or force:
            import ota_wire as ow
            await client.publish(topic("update"), ow.encode_update(
                FW, self.state, rid, self.got, size, self.error), 1, True)
            self.shown = shown

    def finished(self):
        """Nothing left to do, and the last state reported: the sync task
        may unload the updater until another offer comes."""
        return (self.pending is None and self.shown is not None
                and self.shown[0] == self.state
                and self.state not in ("downloading", "installed", "trial"))

    def _fail(self, why, state="failed"):
        self.state = state
        self.error = why
        self.log(why)

    async def _accept(self, o):
        self.offer = o
        self.rid = o["id"]
        self.error = None
        self.got = 0
        self.asked = None
        self.size = 0
        base = self.base
        _drop("ota_wire")  # not needed again before the download
        try:
            info = json.loads(o["manifest"])
            size = info["size"]
            fw = info["fw"]
            bad = not info["files"] or size <= 0 or [
                f[0] for f in info["files"] if "/" in f[0] or f[0].startswith(".")]
            self.sha = info["sha256"]
        except (ValueError, KeyError, TypeError, IndexError):
            self._fail("manifest not readable", "refused")
            return
        del info  # the files' list is read again from flash at install
        import bootsel
        st = bootsel.state(base)
        del bootsel
        _drop("bootsel")
        if o["id"] == st.get("id"):
            # This release runs now: tidy what an install cut short left.
            _remove(base + IMAGE)
            _remove(base + OFFER)
            self.state = "trial" if "boots" in st else "ok"
            return
        if o["id"] in (st.get("failed") or []):
            self._fail(st.get("rolled_back") or "rolled back", "rolled_back")
            return
        if fw == FW and not st.get("slot"):
            self.state = "ok"  # the firmware in the root is this version already
            return
        if o["id"] in self.refused:
            self._fail("signature refused", "refused")
            return
        if bad:
            self._fail("manifest names no file, or a path", "refused")
            return
        saved = _saved(base)
        saved = saved and saved.get("id")  # only its id: the manifest is freed
        if saved != o["id"]:
            if not await self._signed(o):
                return
            _remove(base + IMAGE)
            with open(base + OFFER + ".new", "w") as f:
                json.dump({"id": o["id"], "manifest": o["manifest"].decode()}, f)
            os.rename(base + OFFER + ".new", base + OFFER)
        saved = None
        o["manifest"] = o["sig"] = None  # on flash now: not kept in RAM
        gc.collect()
        self.size = size
        self.got = _size(base + IMAGE)
        if self.got > size:
            _remove(base + IMAGE)
            self.got = 0
        self.state = "downloading"
        self.log("release %s (firmware %s, %d bytes) from byte %d"
                 % (o["id"], fw, size, self.got))

    async def _signed(self, o):
        key = self.k.settings.prov.get("fwkey")
        if not key:
            self._fail("no fwkey pinned on this kiosk: provision it with --fw-key", "refused")
            return False
        gc.collect()  # what reading the manifest left, before the module loads
        import ed25519
        out = [False]
        for _ in ed25519.steps(binascii.unhexlify(key), o["manifest"], o["sig"], out):
            await asyncio.sleep_ms(0)  # the buttons run meanwhile
        del ed25519
        import sys
        sys.modules.pop("ed25519", None)
        gc.collect()
        if not out[0]:
            self.refused.append(o["id"])
            self._fail("signature of release %s refused" % o["id"], "refused")
            return False
        return True

    async def _finish(self, client, topic):
        base = self.base
        buf = bytearray(_BUF)
        if _sha(base + IMAGE, 0, self.size, buf) != self.sha:
            _remove(base + IMAGE)
            self.got = 0
            self.asked = None
            self.bad += 1
            self.error = "image hash mismatch (%d)" % self.bad
            self.log(self.error)
            if self.bad >= HASH_TRIES:
                _remove(base + OFFER)
                self._fail("image hash mismatch %d times" % self.bad)
            return
        import bootsel
        st = bootsel.state(base)
        active = st.get("slot")
        target = SLOTS[1] if active == SLOTS[0] else SLOTS[0]
        try:
            files = json.loads(_saved(base)["manifest"])["files"]
            install(base, target, files, buf)
        except (OSError, ValueError, TypeError, KeyError) as e:
            self._fail("install into /%s failed: %s" % (target, e))
            return
        o = self.offer
        bootsel.save(base, {"slot": target, "id": o["id"], "prev": active,
                            "prev_id": st.get("id"), "boots": o["boots"], "of": o["boots"],
                            "trial_s": o["trial_s"], "failed": st.get("failed") or []})
        _remove(base + IMAGE)
        _remove(base + OFFER)
        self.state = "installed"
        self.log("release %s installed in /%s: restarting" % (o["id"], target))
        await self.report(client, topic)
        self.k.board.request_reboot()


def install(base, target, files, buf):
    """Write each file of the image into the slot folder `target`, checked
    against its SHA-256; raise ValueError on a mismatch."""
    d = base + "/" + target
    try:
        for n in os.listdir(d):
            os.remove(d + "/" + n)
    except OSError:
        os.mkdir(d)
    mv = memoryview(buf)
    with open(base + IMAGE, "rb") as src:
        for name, size, sha in files:
            h = hashlib.sha256()
            left = size
            with open(d + "/" + name, "wb") as out:
                while left > 0:
                    got = src.readinto(mv[:min(left, len(buf))])
                    if not got:
                        raise ValueError("image ends inside %s" % name)
                    h.update(mv[:got])
                    out.write(mv[:got])
                    left -= got
            if _hex(h.digest()) != sha:
                raise ValueError("%s does not match its SHA-256" % name)


# -- called by the sync task (sync.py) --------------------------------------

def updater(sync):
    if sync.ota is None:
        sync.ota = Updater(sync.k)
    return sync.ota


def unload():
    import sys
    for name in ("ota", "ota_wire", "bootsel"):
        sys.modules.pop(name, None)
    gc.collect()


def start(sync):
    """boot.json exists: a firmware on trial keeps the updater, and a task
    that watches for the server's word, until it is kept or given up;
    otherwise there is nothing to do, and this code goes."""
    import bootsel
    st = bootsel.state(sync.k.settings.base)
    if "boots" not in st:
        unload()
        return
    u = updater(sync)
    u.trial = st.get("trial_s") or 0
    u.rid = st.get("id")
    u.state = "trial"
    asyncio.create_task(watch(sync, u, sync.k.settings.config, sync.k.journal.acked))


async def watch(sync, u, cfg, acked):
    """The firmware on trial: kept once it hears from the server (a config
    message, which replaces settings.config, or an ack); given up if that
    does not happen within its seconds from boot."""
    k = sync.k
    while u.trial is not None:
        if k.settings.config is not cfg or k.journal.acked != acked:
            confirm(k, u)
            k.vote_event.set()  # the pump reports it
        elif k.clock.boot_ms() > u.trial * 1000:
            give_up(sync)
        else:
            await asyncio.sleep_ms(200)


def on_message(sync, name, payload):
    """An `ota` or `chunk` message (sync.py)."""
    if name == "ota":
        updater(sync).on_offer(payload)
    elif sync.ota:
        sync.ota.on_chunk(payload)


async def pump(sync, client):
    """The pump's turn: the updater's step; once it is over, unloaded."""
    await sync.ota.step(client, sync.topic)
    if sync.ota.finished():
        sync.ota = None  # until another offer comes
        unload()


def confirm(k, u):
    """The firmware on trial heard from the server: keep it, and say so
    through the updater `u`."""
    u.trial = None
    base = k.settings.base
    import bootsel
    st = bootsel.state(base)
    if "boots" in st:
        for key in ("boots", "of", "trial_s"):
            st.pop(key, None)
        bootsel.save(base, st)
        k.log("update: release %s reported healthy" % st.get("id"))
    if u.offer is None or u.offer["id"] == st.get("id"):
        u.rid = st.get("id")
        u.state = "ok"


def give_up(sync):
    """The firmware on trial did not hear from the server in time: go back."""
    k = sync.k
    u = sync.ota
    why = "no word from the server within %d s" % u.trial
    u.trial = None
    base = k.settings.base
    import bootsel
    st = bootsel.state(base)
    if "boots" in st:
        bootsel.roll_back(base, st, why)
        k.log("update: %s; back to the previous firmware" % why)
        k.board.request_reboot()
