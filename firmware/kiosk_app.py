# The kiosk: turns button presses into durable votes, and runs the tasks
# (buttons, sync, console, supervisor) on one asyncio loop.
import asyncio
import gc
import sys

import clock
import journal
import settings
from version import FW  # noqa: F401 - re-exported

F_OUTSIDE_HOURS = 0x02
F_BURST = 0x04
BURST_N = 10  # more than this many votes ...
BURST_S = 60  # ... within this many seconds are flagged


class Kiosk:
    def __init__(self, board, capacity=None):
        self.board = board
        base = board.fs_base
        self.settings = settings.Settings(base, log=self.log)
        self.journal = journal.Journal(base, capacity=capacity)
        self.clock = clock.Clock(board)
        self.suppressed = 0
        self.write_errors = 0
        self.last_vote_ms = None
        self.recent = [None] * BURST_N  # boot_ms of the last BURST_N votes
        self.recent_i = 0
        self.progress = 0  # bumped by the tasks; the supervisor feeds the watchdog on it
        self.sync = None
        self.vote_event = asyncio.Event()

    def log(self, msg):
        self.board.log(msg)

    def start(self, seed=None):
        self.settings.load()
        if seed and not self.settings.prov:
            import commands
            commands.seed(self.settings, seed)
            sys.modules.pop("commands", None)
        self.journal.open()
        self.journal.start_boot()
        if self.journal.corrupt:
            self.log("journal: %d damaged record(s) cut off" % self.journal.corrupt)
        self.board.boot_clock(self.clock)
        if self.board.has_network:
            # Without a radio (board_pico) neither the MQTT code nor its import
            # time: a quarter of the boot on the Pico.
            import sync

            self.sync = sync.Sync(self)

    @property
    def device(self):
        return self.settings.prov.get("device") or "unprovisioned"

    def press(self, button):
        """A button was pressed: return ('vote', seq), ('suppressed', n),
        or ('error', msg)."""
        cfg = self.settings.config
        # A consultation running (campaign N): its answers are the buttons;
        # a press beyond them is refused like a missing button.
        campaign = cfg["campaign"]
        scale = cfg["answers"] if campaign else cfg["buttons"]
        if not 0 <= button < scale:
            return "error", "button %d outside 0..%d" % (button, scale - 1)
        now = self.clock.boot_ms()
        if self.last_vote_ms is not None and now - self.last_vote_ms < cfg["lockout_s"] * 1000:
            self.suppressed += 1
            self.board.emit_suppressed(button, self.suppressed)
            return "suppressed", self.suppressed
        t, flags = self.clock.stamp()
        if not flags and not clock.is_open(cfg["hours"], cfg["tz"], t):
            flags |= F_OUTSIDE_HOURS
        oldest = self.recent[self.recent_i]
        if oldest is not None and now - oldest < BURST_S * 1000:
            flags |= F_BURST
        try:
            if campaign != self.journal.campaign:
                import campaign as camp  # loaded only by a kiosk taking consultations

                camp.set_campaign(self.journal, campaign)  # on flash before its first vote
            seq = self.journal.append(t, button, scale, flags)
        except OSError as e:
            self.board.flash_error(e)
            self.write_errors += 1
            self.board.indicator("error", True)
            self.log("vote not stored: %r" % (e,))
            return "error", "flash write failed"
        self.last_vote_ms = now
        self.recent[self.recent_i] = now
        self.recent_i = (self.recent_i + 1) % BURST_N
        self.board.thanks(seq, button, flags)  # only now: the vote is durable
        self.vote_event.set()
        return "vote", seq

    def status(self):
        j = self.journal
        return {
            "device": self.device, "boot": j.boot, "uptime_s": self.clock.boot_ms() // 1000,
            "mqtt": "up" if self.sync and self.sync.connected else "down",
            "net": self.board.net_up(), "clock": self.clock.state, "journal": j.pending(),
            "seq": j.next_seq - 1, "acked": j.acked, "suppressed": self.suppressed,
            "dropped": j.dropped, "site": self.settings.config["site"],
            "write_errors": self.write_errors, "heap_free": self.board.heap_free(),
            "heap_peak": self.board.heap_peak(),
        }

    async def buttons_task(self):
        while True:
            for b in self.board.poll_buttons():
                self.press(b)
            self.progress += 1
            await asyncio.sleep_ms(self.board.poll_ms)

    async def supervisor(self):
        # Feed the watchdog only while the button task moved on this second
        # and the sync task within the last minute (it may wait on the network).
        seen = -1
        sync_seen = -1
        sync_idle = 0
        self.board.wdt_start()
        while True:
            await asyncio.sleep_ms(1000)
            sp = self.sync.progress if self.sync else sync_seen + 1
            sync_idle = 0 if sp != sync_seen else sync_idle + 1
            sync_seen = sp
            if self.progress != seen and sync_idle < 60:
                self.board.wdt_feed()
            elif sync_idle == 60 or self.progress == seen:
                self.log("watchdog not fed: a task is stuck")
            seen = self.progress
            self.board.tick(self)
            gc.collect()
            self.board.sample_heap()

    async def main(self):
        import console

        def on_error(loop, ctx):
            self.log("task failed: %r" % (ctx.get("exception"),))
        asyncio.get_event_loop().set_exception_handler(on_error)
        tasks = [asyncio.create_task(self.buttons_task()),
                 asyncio.create_task(self.supervisor()),
                 asyncio.create_task(console.Console(self).run())]
        if self.sync:
            tasks.append(asyncio.create_task(self.sync.run()))
        extra = self.board.tasks(self)
        for coro in extra:
            tasks.append(asyncio.create_task(coro))
        await self.board.reboot_event.wait()
        for t in tasks:
            t.cancel()
        await asyncio.sleep_ms(50)


def run(board, capacity=None, seed=None):
    """Run the kiosk until a reboot is asked; return the Kiosk. An error
    that stops it (at start-up or later) is logged, and run returns after
    board.restart_delay_s so the caller restarts the board: an unattended
    kiosk never stays at the REPL."""
    try:
        k = Kiosk(board, capacity)
        k.start(seed)
        asyncio.run(k.main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - whatever it is, restarting is the cure
        if isinstance(e, OSError):
            board.flash_error(e)  # the simulated board: a power cut stops here
        board.log("kiosk stopped by %r; restart in %d s" % (e, board.restart_delay_s))
        import time
        time.sleep(board.restart_delay_s)
        return None
    return k
