# The simulated board's control channel to the simulator (CONTROL.md): events
# out (votes, LEDs, state) and commands in (presses, network, battery). Loaded
# only when BORNE_SIM_CTL names the simulator, so a kiosk run without it (the
# tests' console-driven runs) does not carry this code on its heap.
import asyncio
import json


def state(board, kiosk):
    s = kiosk.status()
    c = kiosk.settings.config
    # campaign: the consultation the kiosk takes (0: satisfaction votes);
    # buttons: how many it takes now (the consultation's answers, or the site's).
    st = {"ev": "state", "mqtt": s["mqtt"], "journal": s["journal"], "clock": s["clock"],
          "acked": s["acked"], "seq": s["seq"], "dropped": s["dropped"],
          "suppressed": s["suppressed"], "site": c["site"], "campaign": c["campaign"],
          "buttons": c["answers"] if c["campaign"] else c["buttons"]}
    if st != board.last_state:
        board.last_state = st
        board.emit(st)


async def flusher(board):
    while True:
        await asyncio.sleep_ms(10)
        if board.dirty and board.writer is not None:
            board.dirty = False
            try:
                await asyncio.wait_for(board.writer.drain(), 5)
            except Exception:  # noqa: BLE001 - simulator gone
                board.writer = None


async def control(board, addr):
    from version import FW

    host, port = addr.rsplit(":", 1)
    k = board.kiosk
    try:
        reader, board.writer = await asyncio.open_connection(host, int(port))
    except OSError as e:
        board.log("simulator control %s unreachable: %s" % (addr, e))
        return
    board.emit({"ev": "hello", "device": k.device, "fw": FW, "boot": k.journal.boot,
                "buttons": k.settings.config["buttons"], "journal": k.journal.pending()})
    # The state that follows gives the buttons in force and the campaign.
    board.last_state = None
    board.state_changed(k)
    while True:
        line = await reader.readline()
        if not line:
            board.writer = None
            board.log("simulator control closed")
            return
        command(board, line)


def command(board, line):
    try:
        m = json.loads(line)
        cmd = m["cmd"]
    except (ValueError, KeyError, TypeError):
        board.emit({"ev": "error", "msg": "bad control line"})
        return
    if cmd == "press":
        b = m.get("button")
        if not isinstance(b, int):
            board.emit({"ev": "error", "msg": "press needs an integer button"})
            return
        board.queue.append(b)
    elif cmd == "net":
        up = bool(m.get("up"))
        if up != board._net:
            board._net = up
            board._net_changed = True
    elif cmd == "battery":
        board.mv = m.get("mv", board.mv)
        board.pct = m.get("pct", board.pct)
    elif cmd == "rssi":
        board.dbm = m.get("dbm", board.dbm)
    else:
        board.emit({"ev": "error", "msg": "unknown command %s" % cmd})
