# Figures from the real MicroPython rp2 port in the emulated Raspberry Pi Pico
# (tests/pico/harness.js), beside the unix port's in the same run:
#   - flash bytes programmed and erases per vote (the harness counts every
#     boot ROM flash_range_program / flash_range_erase; rp2 LittleFS programs
#     256-byte pages in 4 KiB blocks), against bench_flash.py's counting block
#     device under the unix port;
#   - the peak live heap (everything allocated but the ballast: modules,
#     the kiosk, the REPL) during a 1,000-vote backlog with a batch built,
#     and the same with a ballast leaving about 100 KB free (an ESP32-WROOM's
#     heap), against the unix port (which compiles the .py sources in RAM;
#     the Pico runs the deployed .mpy files);
#   - boot time to the first accepted press (emulated ms, power on to the
#     thank-you LED with the button held), and the instructions the
#     emulator executes for it, with the harness's native functions and
#     without (--native 0: every function on the emulated core).
#   .venv/bin/python bench/bench_pico.py [VOTES]
# Needs node and `npm ci` in tests/pico; deploys and provisions like the tests.
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.pico import pico  # noqa: E402
from tests.pico.pico import LED_THANKS, Pico, repl_exec  # noqa: E402

VOTES = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BORNE = os.path.join(os.path.dirname(sys.executable), "borne")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
WROOM_FREE = 100 * 1024

# The same code on both ports: `board`, BALLAST and feed() (the watchdog the
# stopped kiosk started on the Pico) are set before it runs.
HEAP_PROBE = """
import gc
gc.collect()
ballast = bytearray(max(gc.mem_free() - BALLAST, 0)) if BALLAST else None
gc.collect()
base = len(ballast) if ballast else 0
peak = 0
import kiosk_app, batch
def sample():
    global peak
    gc.collect()
    peak = max(peak, gc.mem_alloc() - base)
k = kiosk_app.Kiosk(board)
k.start()
sample()
for i in range(%d):
    k.journal.append(k.clock.boot_ms(), i %% 4, 4, 1)
    if i %% 100 == 0:
        sample()
    feed()
bb = batch.BatchBuffer(k.device, lambda b: None)
n = k.journal.scan(batch.MAX_BATCH, bb)
sample()
gc.collect()
print('HEAP', peak, gc.mem_free(), k.journal.pending(), n)
"""


def heap_line(out):
    for line in out.splitlines():
        if line.startswith("HEAP "):
            peak, free, pending, n = map(int, line.split()[1:])
            return peak, free, pending, n
    raise RuntimeError("no HEAP line in %r" % out[-300:])


def unix_heap(votes, ballast):
    with tempfile.TemporaryDirectory() as d:
        code = ("import sys\nsys.path[:0] = [%r, %r]\nimport board_base\n"
                "board = board_base.Board()\nboard.fs_base = %r\nimport os\nos.mkdir(%r)\n"
                "BALLAST = %d\ndef feed():\n    pass\n"
                % (os.path.join(ROOT, "firmware"), os.path.join(ROOT, "protocol"),
                   d, d + "/j", ballast))
        code += HEAP_PROBE % votes
        r = subprocess.run([MICROPYTHON, "-X", "heapsize=256k", "-c", code],
                           capture_output=True, text=True, timeout=600)
        return heap_line(r.stdout + r.stderr)


def pico_heap(chip, votes, ballast):
    """(peak, free, pending, batch) and the flash (programmed bytes, erases)
    the probe's votes cost."""
    chip.power_on()
    chip.run(1500)
    code = ("import board_pico, machine\nboard = board_pico.Board()\nBALLAST = %d\n"
            "feed = machine.WDT(timeout=8000).feed\n" % ballast)
    code += HEAP_PROBE % votes
    s0 = chip.stats()
    out = repl_exec(chip.url, code, timeout=1800)
    s1 = chip.stats()
    chip.power_off()
    flash = (s1["bytes_programmed"] - s0["bytes_programmed"], s1["erases"] - s0["erases"])
    return heap_line(out), flash


def first_press(chip):
    """(emulated ms, instructions) from power on to the thank-you LED with a
    button held, the chip then powered off with the button released."""
    chip.release_all()
    chip.watch(LED_THANKS)
    chip.cmd("hold", on=True)  # emulated time runs only during `run`
    chip.pin(pico.BUTTONS[0], 0)
    chip.power_on()
    on = chip.stats()
    chip.run(3000)
    rise = [e for e in chip.pin_events(LED_THANKS) if e["value"] == 1][0]
    chip.pin(pico.BUTTONS[0], 1)
    chip.power_off()
    return rise["ms"] - on["ms"], rise["instructions"] - on["instructions"]


def provisioned_image(folder):
    chip = Pico(log=os.path.join(folder, "setup.log"))
    try:
        chip.release_all()
        chip.power_on()
        chip.run(300)
        for args in (["firmware", "deploy", "--port", chip.url, "--timeout", "30"],
                     ["provision", "--port", chip.url, "--site", "bench", "--device-id",
                      "k-bench", "--secret=bench-secret-01", "--broker",
                      "mqtt://127.0.0.1:1883", "--lab-plain-tcp", "--timeout", "5", "--wait-online",
                      "1"]):
            r = subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=300)
            if r.returncode:
                raise SystemExit("borne %s failed: %s" % (args[0], r.stderr))
        chip.power_off()
        image = os.path.join(folder, "provisioned.img")
        chip.save(image)
        return image
    finally:
        chip.close()


def main():
    if not pico.find_node():
        raise SystemExit("needs node and `npm ci` in tests/pico")
    with tempfile.TemporaryDirectory(prefix="borne-bench-pico-") as folder:
        image = provisioned_image(folder)
        exact = Pico(flash=image, log=os.path.join(folder, "serial-exact.log"), native=False)
        try:
            _, exact_instr = first_press(exact)
        finally:
            exact.close()
        chip = Pico(flash=image, log=os.path.join(folder, "serial.log"), native=True)
        try:
            boot_ms, boot_instr = first_press(chip)
            # The backlog's votes, written by the kiosk's journal, give the
            # flash cost per vote (the rest of the probe writes nothing).
            chip.load(image)
            free, (programmed, erased) = pico_heap(chip, VOTES, 0)
            prog = programmed / VOTES
            erases = erased / VOTES
            chip.load(image)
            wroom, _ = pico_heap(chip, VOTES, WROOM_FREE)
        finally:
            chip.close()
    unix = unix_heap(VOTES, 0)
    print("Emulated Raspberry Pi Pico, MicroPython v1.28.0 rp2 port (emulated time)")
    print("| %d votes, journal offline | bytes programmed per vote | erases per vote |" % VOTES)
    print("| --- | --- | --- |")
    print("| rp2 LittleFS (256 B pages, 4 KiB blocks) | %.0f | %.3f |" % (prog, erases))
    print()
    print("| peak live heap, %d-vote backlog and a batch | peak (bytes) | free after |" % VOTES)
    print("| --- | --- | --- |")
    print("| rp2, whole heap | %d | %d |" % free[:2])
    print("| rp2, ballast leaving ~100 KB (ESP32-WROOM) | %d | %d |" % wroom[:2])
    print("| unix port (256 KiB heap) | %d | %d |" % unix[:2])
    print("votes pending after the backlog: rp2 %d, rp2 with ballast %d, unix %d"
          % (free[2], wroom[2], unix[2]))
    # With the ballast the kiosk must still have kept every vote and built a batch.
    works = all(r[2] == VOTES and r[3] > 0 for r in (free, wroom, unix))
    print("every vote kept and a batch built, also with the ballast: %s"
          % ("yes" if works else "NO"))
    print()
    print("boot to the first accepted press (power on to the thank-you LED): %.0f ms" % boot_ms)
    print("instructions the emulator executes for it: %.1f million with the harness's native "
          "functions, %.1f million without (%.2fx)" % (boot_instr / 1e6, exact_instr / 1e6,
                                                      exact_instr / boot_instr))
    if not works:
        raise SystemExit("the kiosk lost votes or built no batch: see the figures above")
    print()
    print("The unix port's flash figures, same journal (bench_flash.py, 32 B programs):")
    sys.stdout.flush()
    subprocess.call([sys.executable, os.path.join(ROOT, "bench", "bench_flash.py"),
                     str(VOTES), str(VOTES)])


if __name__ == "__main__":
    main()
