# The simulated board's control channel (CONTROL.md, "Control lines"): the
# board connects to the simulator and takes presses, network and battery
# changes from it. Loaded only when BORNE_SIM_CTL is set, so a kiosk run
# without a simulator window keeps this code off its heap.
import asyncio
import json


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
