"""The kiosk's full scenario, shared by the heap test and bench/bench_firmware.py:
the real firmware under the MicroPython unix port with a given heap, a real
Mosquitto with the generated ACL and the real `borne serve`. Boot, connect
(config and time from the server), a 1,000-vote backlog built offline and
drained, presses while online, a second connection (config and time again)."""
import base64
import os
import sqlite3
import time

from sync_server.broker import tls
from tests import realparts
from tests import server_support as ss
from tests.firmware.net_support import DnsServer
from tests.firmware_support import Firmware

TLS_HOST = "broker.test"


def stored(db, dev):
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute(
            "SELECT seq FROM votes WHERE device_id = ? ORDER BY seq", (dev,))]
    finally:
        conn.close()


def romfs_image():
    """The .mpy build (`borne firmware build`, with the simulated board's sim/)
    as a ROMFS image, made with mpremote's writer and cached beside the
    build: what a board built with ROMFS would map from flash."""
    from mpremote.romfs import VfsRomWriter

    from sync_server.devices.firmware import compiled
    folder = compiled()
    image = folder + ".romfs"
    if os.path.isfile(image):
        return image
    writer = VfsRomWriter()

    def add(d):
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if os.path.isdir(path):
                writer.opendir(name)
                add(path)
                writer.closedir()
            elif name.endswith(".mpy"):
                with open(path, "rb") as f:
                    writer.mkfile(name, f.read())

    add(folder)
    tmp = "%s.%d" % (image, os.getpid())
    with open(tmp, "wb") as f:
        f.write(writer.finalise())
    os.replace(tmp, image)  # concurrent runs never read half an image
    return image


def press(fw, n, start=0):
    seqs = []
    for i in range(n):
        r = fw.ask("press %d" % ((start + i) % 4))
        if not isinstance(r, dict) or "seq" not in r:
            raise AssertionError("press %d refused: %r; logs %s" % (i, r, fw.logs[-5:]))
        seqs.append(r["seq"])
    return seqs


def tls_broker(db, workdir):
    """Mosquitto from `borne broker-config` with its TLS listener (certificates
    from `borne tls init`): (broker, kiosk URL, the CA's DER to pin)."""
    tlsdir = os.path.join(workdir, "tls")
    tls.init(tlsdir, [TLS_HOST])
    broker = realparts.Mosquitto(conf="")
    port = realparts.free_port()
    ss.write_broker_config(db, broker, tls=tlsdir,
                           tls_listener="127.0.0.1:%d" % port)
    der = tls.load_ca(tlsdir)[0].public_bytes(tls.serialization.Encoding.DER)
    return broker.start(), "mqtts://%s:%d" % (TLS_HOST, port), der


def run(workdir, heap, backlog=1000, online=20, timeout=180, env=None, mpy=True,
        use_tls=False, romfs=False):
    """Run the scenario; return a dict of figures (heap_peak, the board's own
    share, votes stored) or raise with the firmware's last logs. env: more
    of the simulated board's environment (simulator/mpy/CONTROL.md); mpy:
    the .mpy build a board gets (False: the source, compiled at import);
    use_tls: MQTT over TLS to Mosquitto's TLS listener, the CA pinned first;
    romfs: the .mpy build imported from a ROMFS image (romfs_image()), its
    bytecode run in place; the image itself counts in the board's share."""
    workdir = str(workdir)
    db = os.path.join(workdir, "borne.db")
    keys = ss.make_registry(db, kiosks=1, lockout_s=0, sync_s=5)
    dev, secret = next(iter(keys.items()))
    dns = None
    if romfs:
        env = dict(env or {}, BORNE_FW_ROMFS=romfs_image())
    if use_tls:
        broker, url, ca = tls_broker(db, workdir)
        server = ss.Server(db, "--http", "127.0.0.1:0", "--mqtt", broker.url).start()
        dns = DnsServer({TLS_HOST: "127.0.0.1"})
        env = dict(env or {}, BORNE_DNS=dns.addr)
    else:
        broker, server = ss.secured_server(db)
        url = broker.url
    fw = Firmware(realparts.need_binary("micropython"), os.path.join(workdir, "flash.img"),
                  env=dict(BORNE_DEVICE=dev, BORNE_BROKER=url, BORNE_PASS=secret,
                           **(env or {})),
                  heap=heap, mpy=mpy)
    try:
        fw.start()
        if use_tls:
            got = fw.ask("set ca " + base64.b64encode(ca).decode())
            if got != {"ca": tls.fingerprint(ca)}:
                raise AssertionError("set ca: %r; logs %s" % (got, fw.logs[-5:]))
        fw.wait_status(lambda s: s["mqtt"] == "up" and s["clock"] == "server", timeout=60)
        deadline = time.monotonic() + 30
        while True:
            cfg = fw.ask("show config")
            if not isinstance(cfg, dict):
                raise AssertionError("show config: %r; logs %s" % (cfg, fw.logs[-5:]))
            if cfg["lockout_s"] == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("no config from the server")
            time.sleep(0.1)
        broker.stop(kill=True)
        fw.wait_status(lambda s: s["mqtt"] == "down", timeout=60)
        seqs = press(fw, backlog)
        broker.start()
        fw.wait_status(lambda s: s["mqtt"] == "up", timeout=60)
        seqs += press(fw, online, backlog)
        st = fw.wait_status(lambda s: s["journal"] == 0, timeout=timeout, step=0.1)
        got = stored(db, dev)
        board = fw.ask("sim heap")
        if got != seqs:
            raise AssertionError("%d of %d votes stored" % (len(got), len(seqs)))
        if any("MemoryError" in line for line in fw.logs):
            raise AssertionError("firmware logs: %s" % [x for x in fw.logs if "Memory" in x])
        return {"heap_peak": st["heap_peak"], "heap_free": st["heap_free"],
                "board_share": board.get("board_share") if isinstance(board, dict) else None,
                "form": board.get("form") if isinstance(board, dict) else None,
                "modules": board.get("modules") if isinstance(board, dict) else None,
                "stored": len(got)}
    finally:
        fw.stop()
        server.stop()
        broker.stop()
        if dns:
            dns.close()
