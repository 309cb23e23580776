"""The kiosk firmware on MicroPython's real rp2 port, in an emulated Raspberry
Pi Pico (tests/pico/harness.js): deployed and provisioned with `borne` over
its USB REPL as a board on USB, buttons and LEDs on GPIO, flash written
through the boot ROM, power cut at chosen instants, watchdog resets.

The emulator executes at about a fifth of real time, but the idle chip sleeps
(WFE) through emulated time, so an idle kiosk runs faster than real time;
boots and flash writes are what cost: power on to the first thank-you
executes about 8.5 million instructions (34 million before the changes
below), most of them importing the firmware (each LittleFS lookup reads the
root directory's metadata log), and the power-cut test boots once per cut.
main.py leaves /lib out of the import path (a sixth of the instructions),
and without a radio the kiosk does not import its MQTT code (a fifth). The
harness computes a few pure functions of this MicroPython build natively,
from the same memory: LittleFS's CRC and its reads from its caches,
qstr_find_strn, the boot ROM's memcpy and memset (about 23 million
instructions when the emulated core runs them: BORNE_PICO_NATIVE=0). Its
USB host answers only when it has bytes to send, as a real host does, so
a serial tool keeps the core busy only while it talks. Each scenario is
short and starts from one flash image, saved once the firmware is deployed
and provisioned; the power-cut test runs two chips at once."""
import ast
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from sync_server.devices.console import KioskConsole
from tests.pico import pico
from tests.pico.pico import LED_THANKS, Pico, journal_records, repl_exec
from tests.server_support import BORNE

SITE = "mairie"
DEVICE = "k-pico-1"
SECRET = "s3cret-pico-0001"
DAY_MS = 86_400_000
TICKS_PERIOD_MS = 1 << 30
BOOT_MS = 1500  # power on to the button task polling, with margin
CUTS = int(os.environ.get("BORNE_PICO_CUTS", "100"))


def borne(*args, timeout=180):
    return subprocess.run([BORNE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def pico_image(tmp_path_factory):
    """A flash image of a Pico with the firmware of this tree deployed and the
    kiosk provisioned, both with `borne` over the emulated USB REPL."""
    pico.need_node()
    folder = tmp_path_factory.mktemp("pico")
    chip = Pico(log=folder / "setup-serial.log")
    try:
        chip.release_all()
        chip.power_on()
        chip.run(300)  # MicroPython's REPL is up after about 15 ms
        deploy = borne("firmware", "deploy", "--port", chip.url, "--timeout", "30")
        assert deploy.returncode == 0, deploy.stderr + deploy.stdout
        prov = borne("provision", "--port", chip.url, "--site", SITE, "--device-id", DEVICE,
                     "--secret=" + SECRET, "--broker", "mqtt://127.0.0.1:1883",
                     "--lab-plain-tcp",  # no radio on a Pico: the broker is never reached
                     # A `status` sent as the chip resets after `reboot` is lost:
                     # one timeout, then the next one finds it restarted.
                     "--timeout", "5", "--wait-online", "1")
        assert prov.returncode == 0, prov.stderr + prov.stdout
        chip.power_off()
        image = folder / "provisioned.img"
        chip.save(image)
    finally:
        chip.close()
    return {"image": image, "deploy": deploy.stdout, "provision": prov.stdout, "dir": folder}


def held_chip(image, log):
    """A Pico powered off, its flash `image`, buttons released, the
    thank-you LED watched, held still between commands."""
    c = Pico(flash=image, log=log)
    c.release_all()
    c.watch(LED_THANKS)
    c.cmd("hold", on=True)  # between commands, emulated time stands still
    return c


@pytest.fixture
def chip(pico_image, tmp_path):
    """A Pico with the provisioned image (held_chip)."""
    c = held_chip(pico_image["image"], tmp_path / "serial.log")
    yield c
    c.close()


def boot(chip, **kw):
    chip.power_on(**kw)
    chip.run(BOOT_MS)


def led_rises(chip):
    return [e for e in chip.pin_events(LED_THANKS) if e["value"] == 1]


def test_deploy_and_provision_over_the_usb_repl(pico_image, chip):
    assert "copying firmware" in pico_image["deploy"]
    assert "restarted with firmware" in pico_image["deploy"]
    assert ("configuration written and read back: device %s, site %s" % (DEVICE, SITE)
            in pico_image["provision"])
    boot(chip)
    with KioskConsole(chip.url, timeout=10) as con:
        assert con.command("version")["board"] == "pico"
        status = con.command("status")
    # No radio on this board: the kiosk runs offline and keeps its votes.
    assert status["device"] == DEVICE and status["site"] == SITE
    assert status["net"] is False and status["mqtt"] == "down"
    assert status["journal"] == 0 and status["seq"] == 0
    # What the kiosk loaded (the REPL stops it without a soft reset): no MQTT
    # code without a radio, and no /lib on the import path (main.py).
    out = repl_exec(chip.url, "import sys\nprint(repr(([m for m in ('sync', 'mqtt', 'batch')"
                    " if m in sys.modules], sys.path)))\n")
    loaded, path = ast.literal_eval(out.strip())
    assert loaded == [] and "/lib" not in path and "" in path


def test_thanks_only_once_the_vote_is_in_flash(chip):
    boot(chip)
    before = chip.stats()["programs"]
    # Cut the power at the very instruction that lights the thank-you LED.
    chip.cut(pin=LED_THANKS, value=1)
    chip.pin(pico.BUTTONS[2], 0)
    chip.run(500)
    assert not chip.powered()
    off = [e for e in chip.events if e.get("ev") == "off"][-1]
    assert off["why"] == "cut on pin %d" % LED_THANKS
    assert off["programs"] > before  # LittleFS programmed the vote first
    chip.pin(pico.BUTTONS[2], 1)
    boot(chip)
    records, damaged, next_seq, _ = journal_records(chip.url)
    assert [r[0] for r in records] == [1]
    assert next_seq == 2


# A backlog of 64 full segments written in the journal's own format (faster
# than 512 appends on the emulated chip), after the kiosk's own votes: the
# next vote starts a segment and packs the oldest 32 full ones.
BACKLOG = """import journal, machine, struct
wdt = machine.WDT(timeout=8000)  # the stopped kiosk started it: keep it fed
j = journal.Journal('')
j.open()
seq = start = j.next_seq
buf = bytearray(journal.REC * journal.PER_SEG)
for _ in range(64):
    for i in range(journal.PER_SEG):
        o = i * journal.REC
        struct.pack_into('>IIHIB', buf, o, seq + i, j.boot, 0, seq + i,
                         journal.pack_lsf(i % 4, 4, 1))
        buf[o + 15] = journal._check(buf[o:o + journal.REC])
    with open('/j/s/%08x' % seq, 'wb') as f:
        f.write(buf)
    wdt.feed()
    seq += journal.PER_SEG
print(start, seq)
"""


def cut_presses(chip, cycles):
    """One power on with a button held per item of `cycles`, cut at the
    instant it names (Pico.cut's arguments) or at the latest when the
    thank-you LED lights (the vote must then be in flash). Returns (votes
    thanked, power cuts)."""
    thanked = cuts = 0
    for cut in cycles:
        seen = len(led_rises(chip))
        chip.power_on()
        chip.cut(pin=LED_THANKS, value=1, **cut)
        chip.run(BOOT_MS)
        if chip.powered():
            chip.power_off()
        else:
            cuts += 1
        thanked += len(led_rises(chip)) > seen
    return thanked, cuts


def kiosk_journal(chip, thanked, backlog=range(0)):
    """After the cuts: no seq given twice, every thanked vote in the
    journal, the `backlog` seqs whole, the next seq above them all."""
    chip.pin(pico.BUTTONS[1], 1)
    boot(chip)
    records, damaged, next_seq, _ = journal_records(chip.url)
    seqs = [r[0] for r in records]
    assert seqs == sorted(set(seqs)), "a seq given twice or out of order"
    kiosk_votes = [s for s in seqs if s not in backlog]
    assert len(kiosk_votes) >= thanked, "%d votes thanked, %d in the journal" % (
        thanked, len(kiosk_votes))
    assert [s for s in seqs if s in backlog] == list(backlog)  # the backlog is whole
    assert next_seq > seqs[-1]


def random_cuts(chip, points, check=False):
    """Presses cut after each number of instructions in `points`; with
    `check`, the journal checked afterwards. Returns (votes thanked, cuts)."""
    chip.pin(pico.BUTTONS[1], 0)
    thanked, cuts = cut_presses(chip, [{"after_instructions": n} for n in points])
    if check:
        kiosk_journal(chip, thanked)
    return thanked, cuts


def packing_cuts(chip, thanked):
    """A backlog of 64 full segments written after the kiosk's `thanked`
    votes, presses up to one that packs, then that press cut before each of
    its flash operations op_cuts() names; the journal checked afterwards."""
    chip.pin(pico.BUTTONS[1], 1)
    boot(chip)
    b0, b1 = map(int, repl_exec(chip.url, BACKLOG, timeout=300).split())
    chip.power_off()
    assert b1 == b0 + 64 * 8
    chip.pin(pico.BUTTONS[1], 0)
    ops = []
    while True:
        t, _ = cut_presses(chip, [{}])
        thanked += t
        ops.append([e for e in chip.events if e.get("ev") == "off"][-1]["ops"])
        if len(ops[-1]) > 30 or len(ops) > 16:
            break
    packing = ops[-1]
    assert len(packing) > 30, "no press packed the backlog: flash operations %r" % ops
    t, _ = cut_presses(chip, [{"before": "any", "n": k} for k in sorted(op_cuts(packing))])
    kiosk_journal(chip, thanked + t, backlog=range(b0, b1))


@pytest.mark.timeout(1800)
def test_power_cuts_during_presses_and_packing_lose_no_thanked_vote(chip, pico_image, tmp_path):
    """Power cuts while a button is pressed at power on: CUTS at random
    instructions (fixed seed) around the press, then, with a backlog of 64
    full segments written after those votes, one before each erase of a
    press that packs, one between each erase and the operation after it,
    and one before every 8th other flash operation of that press. Every vote
    that lit the LED is still in the journal afterwards, no seq is given
    twice, and the backlog is whole. Two chips from the provisioned image
    run at once (the machine has two cores), each journal checked: the
    first takes a third of the random cuts then the backlog (its 64 files
    in /j/s cost each boot half as many instructions again, hence after the
    random cuts), the second the other two thirds."""
    # Calibrate with the button held from power on: instructions to the LED.
    chip.pin(pico.BUTTONS[1], 0)
    start = chip.power_on() and chip.stats()["instructions"]
    chip.run(BOOT_MS)
    rises = led_rises(chip)
    assert rises, "no thank-you with the button held from power on"
    to_led = rises[-1]["instructions"] - start
    chip.power_off()
    rng = random.Random(1919)
    points = [rng.randint(int(to_led * 0.8), int(to_led * 1.3)) for _ in range(CUTS)]
    share = CUTS // 3  # the backlog and its packing cost about 30 presses
    other = held_chip(pico_image["image"], tmp_path / "serial-2.log")
    pool = ThreadPoolExecutor(1)
    try:
        other_done = pool.submit(random_cuts, other, points[share:], check=True)
        thanked, cuts = random_cuts(chip, points[:share])
        packing_cuts(chip, thanked + 1)  # and the calibration's vote
        cuts += other_done.result()[1]
    finally:
        other.close()  # a failure on this chip stops the other one's thread
        pool.shutdown()
    assert cuts >= CUTS


def op_cuts(ops):
    """Which flash operations of a press to cut the power before (1-based):
    each erase, the operation right after each erase (between the erase
    and the program that follows it), and every 8th of the others (the
    kiosk's 32-byte programs make many)."""
    cuts = set(range(1, len(ops) + 1, 8))
    for i, op in enumerate(ops):
        if op == "e":
            cuts.update((i + 1, i + 2))
    return {k for k in cuts if k <= len(ops)}


def test_lockout_on_the_real_ticks(chip):
    boot(chip)
    chip.press(0, after_ms=2000)
    chip.press(1, after_ms=3200)  # 2 s after the vote: inside the 5 s lockout
    chip.press(2, after_ms=300)  # 5.3 s after the vote
    with KioskConsole(chip.url, timeout=10) as con:
        status = con.command("status")
    assert status["seq"] == 2 and status["suppressed"] == 1
    records, _, _, _ = journal_records(chip.url)
    assert [r[0] for r in records] == [1, 2]


def test_burst_flags_and_lockout_on_the_real_ticks(chip):
    """Votes 5.2 s apart: the 11th within 60 s, and each after it, carries the
    burst flag (bit 2) beside the clock-unknown flag (bit 0: offline, no time
    source); a press 2 s after a vote is suppressed by the 5 s lockout; after
    a minute without votes the next one is not flagged. The timer jumps
    through the idle seconds between presses (the firmware reads the board's
    ticks as on the silicon)."""
    boot(chip)
    for i in range(12):
        chip.press(i % 4, after_ms=120)
        if i == 3:
            chip.run(2000)  # 2 s after the 4th vote: inside the lockout
            chip.press(0, after_ms=120)
        chip.ticks_offset(5000)
        chip.run(100)
    chip.ticks_offset(61_000)
    chip.run(100)
    chip.press(1, after_ms=120)
    with KioskConsole(chip.url, timeout=10) as con:
        status = con.command("status")
    assert status["seq"] == 13 and status["suppressed"] == 1
    out = repl_exec(chip.url, "import journal\nj = journal.Journal('')\nj.open()\n"
                    "print(j.read(20))\n")
    _, votes = ast.literal_eval(out.strip())
    assert [v[0] for v in votes] == list(range(1, 14))
    assert [v[2] for v in votes] == [i % 4 for i in range(12)] + [1]
    clock_unknown, burst = 0x01, 0x04
    assert [v[4] for v in votes] == ([clock_unknown] * 10 + [clock_unknown | burst] * 2
                                     + [clock_unknown])
    assert len(led_rises(chip)) == 13


def test_clock_stays_monotonic_across_the_ticks_wrap_after_long_idle(chip):
    """ticks_ms() wraps every 2^30 ms on the board. The chip starts two days
    before the wrap, takes a vote, idles seven days (the timer jumps a day at
    a time while the firmware keeps running), then takes another: its stamp
    (ms since boot: no clock source offline) must be about seven days later."""
    boot(chip, ticks_offset_ms=TICKS_PERIOD_MS - 2 * DAY_MS)
    chip.press(0, after_ms=200)
    for _ in range(7):
        chip.ticks_offset(DAY_MS)
        chip.run(1500)
    chip.press(3, after_ms=200)
    out = repl_exec(chip.url, "import journal\nj = journal.Journal('')\nj.open()\n"
                    "print(j.read(10))\n")
    _, votes = ast.literal_eval(out.strip())
    # A clock that went back makes the lockout refuse the second press.
    assert len(votes) == 2, "the press after the idle was refused: %r" % (votes,)
    (s1, t1, *_), (s2, t2, *_) = votes
    assert s2 == s1 + 1
    assert t2 - t1 >= 7 * DAY_MS, "the stamp went from %d to %d ms" % (t1, t2)


def test_a_stuck_task_starves_the_watchdog_and_the_kiosk_comes_back(chip, tmp_path):
    boot(chip)
    chip.press(0, after_ms=200)
    assert len(led_rises(chip)) == 1
    # Restart the kiosk with a button task that stops making progress while
    # the loop still runs: the supervisor must stop feeding the watchdog.
    from mpremote.transport_serial import SerialTransport
    t = SerialTransport(chip.url, baudrate=115200, timeout=30)
    t.enter_raw_repl(soft_reset=False, timeout_overall=30)
    t.exec_raw_no_follow(
        # A new event loop: the interrupted kiosk's tasks must not run on.
        "import asyncio, kiosk_app, board_pico\nasyncio.new_event_loop()\n"
        "async def stuck(self):\n    await asyncio.sleep(3600)\n"
        "kiosk_app.Kiosk.buttons_task = stuck\n"
        "kiosk_app.run(board_pico.Board())\n")
    t.close()
    chip.run(12000)
    resets = [e for e in chip.events if e.get("ev") == "reset"]
    assert resets and resets[-1]["reason"] & 1, "no watchdog reset: %r" % chip.events[-3:]
    chip.run(BOOT_MS)
    log = (tmp_path / "serial.log").read_bytes()
    assert b"watchdog not fed: a task is stuck" in log
    with KioskConsole(chip.url, timeout=10) as con:
        status = con.command("status")
    assert status["journal"] == 1 and status["seq"] == 1
    chip.press(1, after_ms=200)
    assert len(led_rises(chip)) == 2  # the button task runs again
    out = repl_exec(chip.url, "import machine\nprint(machine.reset_cause() == "
                    "machine.WDT_RESET)\n")
    assert out.strip() == "True"


def test_the_stock_boot_formats_a_flash_partitioned_for_a_raw_journal(tmp_path):
    # Why the rp2's journal stays in LittleFS (firmware/README.md, Flash
    # cost): the port's frozen _boot.py mounts LittleFS over the whole flash
    # region and formats it when that fails, so a LittleFS kept on part of
    # the region, the rest left to a raw journal, is wiped at the next boot.
    pico.need_node()
    c = Pico(log=tmp_path / "serial.log")
    try:
        c.power_on()
        c.run(300)
        made = repl_exec(c.url, (
            "import rp2, vfs, os\n"
            "n = rp2.Flash().ioctl(4, 0)\n"
            "vfs.umount('/')\n"
            "part = rp2.Flash(start=0, len=n // 2 * 4096)\n"
            "vfs.VfsLfs2.mkfs(part, progsize=256)\n"
            "vfs.mount(vfs.VfsLfs2(part, progsize=256), '/')\n"
            "open('/kept', 'w').write('vote')\n"
            "print(n, part.ioctl(4, 0), os.listdir('/'))\n"
            "vfs.umount('/')\n"))
        n, half, listing = made.split(" ", 2)
        assert int(half) == int(n) // 2 and listing.strip() == "['kept']"
        c.power_off()
        c.power_on()
        c.run(300)
        after = repl_exec(c.url, (
            "import rp2, vfs, os\n"
            "print(os.listdir('/'))\n"
            "try:\n"
            "    vfs.VfsLfs2(rp2.Flash(start=0, len=%d * 4096), progsize=256)\n"
            "    print('mounted')\n"
            "except OSError as e:\n"
            "    print('refused', e.errno)\n" % int(half)))
        assert after.split() == ["[]", "refused", "22"]  # formatted whole: the vote is gone
    finally:
        c.close()
