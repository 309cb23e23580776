"""`borne sim` with its Tk window under a real X server (Xvfb): kiosks
registered automatically in the server's database, a smiley clicked with
the mouse and a key pressed give thank-yous, and the screenshot is saved as
artifacts/sim-window.png."""
import os
import subprocess
import time

import pytest

from simulator.driver import BORNE, HeadlessSim
from simulator.procs import spawn, stop
from simulator.window import FACES
from tests import realparts
from tests.realparts import free_port
from tests.server_support import Server

GREEN = FACES[4][3][0]     # the most satisfied face
THANKS_BG = "#2e7d32"      # the thank-you banner


def rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def display():
    xvfb = realparts.need_binary("Xvfb")
    read_fd, write_fd = os.pipe()
    proc = spawn([xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                  "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        if not number:
            pytest.fail("Xvfb did not start")
        yield ":" + number
    finally:
        stop(proc)


def find_colour(image, colour, box=None):
    """Centre of the pixels of exactly this colour (in box), or None."""
    target = rgb(colour)
    img = image.crop(box) if box else image
    xs, ys = [], []
    px = img.load()
    for y in range(0, img.height, 2):
        for x in range(0, img.width, 2):
            if px[x, y][:3] == target:
                xs.append(x)
                ys.append(y)
    if not xs:
        return None
    ox, oy = (box[0], box[1]) if box else (0, 0)
    return ox + sum(xs) // len(xs), oy + sum(ys) // len(ys)


def test_window_shows_kiosks_and_takes_clicks_and_keys(tmp_path, display, artifacts_dir):
    realparts.need_binary("micropython")
    xdotool = realparts.need_binary("xdotool")
    try:
        import tkinter  # noqa: F401  (Debian: python3-tk)
    except ImportError:
        realparts.missing("tkinter")
    from PIL import ImageGrab

    db = tmp_path / "borne.db"
    for args in (("site", "add", "mairie-centre", "--name", "Mairie centrale"),
                 ("site", "set", "mairie-centre", "--lockout-s", "0")):
        subprocess.run([BORNE, *args, "--db", str(db)], check=True, capture_output=True,
                       timeout=60)
    port = free_port()
    srv = Server(db, "--broker-port", str(port), "--http", "127.0.0.1:0").start()
    env = {"DISPLAY": display}
    sim = HeadlessSim(["--kiosks", "2", "--db", str(db), "--site", "mairie-centre",
                       "--broker", "mqtt://127.0.0.1:%d" % port, "--dir", str(tmp_path / "sim")],
                      env=env, stderr_path=str(tmp_path / "sim.err"), window=True)
    try:
        sim.start()
        sim.wait_online((1, 2))
        # The kiosks were registered by the simulator itself.
        listed = subprocess.run([BORNE, "kiosk", "list", "--json", "--db", str(db)],
                                capture_output=True, text=True, timeout=60).stdout
        assert listed.count('"site_id": "mairie-centre"') == 2
        time.sleep(0.5)  # let Tk draw the last state
        shot = ImageGrab.grab(xdisplay=display)
        for colour, _ in FACES[4]:
            assert find_colour(shot, colour), "face %s not visible" % colour
        # Click the green face of the first kiosk (left half of the screen).
        x, y = find_colour(shot, GREEN, (0, 0, shot.width // 2 - 60, shot.height // 2))
        subprocess.run([xdotool, "mousemove", str(x), str(y), "click", "1"], env=env,
                       check=True, timeout=10)
        vote = sim.wait(lambda e: e["ev"] == "vote", what="vote from the click")
        assert (vote["kiosk"], vote["level"]) == (1, 3)
        time.sleep(0.3)
        shot = ImageGrab.grab(xdisplay=display)
        shot.save(os.path.join(artifacts_dir, "sim-window.png"))
        assert find_colour(shot, THANKS_BG), "no thank-you banner after the vote"
        # Key 1 presses the least satisfied button of the selected kiosk.
        subprocess.run([xdotool, "key", "1"], env=env, check=True, timeout=10)
        vote = sim.wait(lambda e: e["ev"] == "vote", what="vote from key 1")
        assert (vote["kiosk"], vote["level"]) == (1, 0)
        # Tab selects the next kiosk.
        subprocess.run([xdotool, "key", "Tab", "key", "2"], env=env, check=True, timeout=10)
        vote = sim.wait(lambda e: e["ev"] == "vote", what="vote from Tab then key 2")
        assert (vote["kiosk"], vote["level"]) == (2, 1)
    finally:
        status = sim.close()
        srv.stop()
    assert status == 0


def test_window_controls_drive_the_kiosk(tmp_path, display, monkeypatch):
    """The panel's buttons, invoked through Tk, cut and restore the network
    and the power of a kiosk running the real firmware; the language button
    switches every label to English."""
    realparts.need_binary("micropython")
    try:
        import tkinter as tk
    except ImportError:
        realparts.missing("tkinter")
    import queue

    from simulator.fleet import Fleet
    from simulator.window import SimWindow

    monkeypatch.setenv("DISPLAY", display)
    events = queue.Queue()
    seen = []
    fleet = Fleet(tmp_path / "sim", events.put)
    kiosk = fleet.add({"device_id": "k-window", "secret": "s", "buttons": 3,
                       "broker": "mqtt://127.0.0.1:%d" % free_port()})
    root = tk.Tk()
    win = SimWindow(root, fleet, events, seen.append)
    panel = win.panels[1]

    def pump_until(cond, what, timeout=20):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError("%s; events: %s" % (what, seen[-6:]))
            root.update()
            time.sleep(0.02)

    try:
        fleet.power_on_all()
        pump_until(lambda: any(e["ev"] == "hello" for e in seen), "hello")
        assert len(panel.canvas.find_withtag("face2")) > 0        # three faces drawn
        assert not panel.canvas.find_withtag("face3")
        panel.press(2)
        pump_until(lambda: panel.feedback.cget("text") == "Merci !", "thank-you")

        panel.net_btn.invoke()
        assert kiosk.state["net"] is False
        assert "coupé" in panel.info.cget("text")
        assert panel.net_btn.cget("text") == "Rétablir le réseau"
        panel.power_btn.invoke()
        pid = [e for e in seen if e["ev"] == "power"][-1].get("pid")
        pump_until(lambda: any(e["ev"] == "power" and not e["on"] for e in seen), "power off")
        assert "éteinte" in panel.info.cget("text")
        assert panel.reboot_btn.cget("state") == "disabled"
        panel.press(0)
        assert panel.feedback.cget("text") == "Borne éteinte"
        panel.power_btn.invoke()
        pump_until(lambda: sum(e["ev"] == "hello" for e in seen) == 2, "boot after power on")
        assert kiosk.snapshot()["pid"] != pid
        assert kiosk.state["boot"] == 2 and kiosk.state["journal"] == 1  # kept in flash
        assert kiosk.state["net"] is False     # the network stays cut across the power cut

        # Reboot: a clean reset, one boot more, in a new process (a board's
        # reset gives a fresh heap); the power stays on, no power event.
        pid = kiosk.proc.pid
        powers = sum(e["ev"] == "power" for e in seen)
        panel.reboot_btn.invoke()
        pump_until(lambda: sum(e["ev"] == "hello" for e in seen) == 3, "boot after reboot")
        assert kiosk.state["boot"] == 3 and kiosk.snapshot()["pid"] != pid
        assert [e["pid"] for e in seen if e["ev"] == "reset"] == [kiosk.snapshot()["pid"]]
        assert sum(e["ev"] == "power" for e in seen) == powers and kiosk.state["power"]

        win.lang_btn.invoke()
        assert panel.net_btn.cget("text") == "Restore the network"
        assert "Votes pending" in panel.info.cget("text")
        assert win.lang_btn.cget("text") == "Français"
    finally:
        fleet.close()
        root.destroy()
