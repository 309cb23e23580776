"""Headless fleet: commands on standard input, events as JSON lines on
standard output. Tests and load generators drive kiosks this way.

Commands, one per line (K is a kiosk number from 1, or its device id;
LEVEL is 0 for the least satisfied button up to buttons - 1):

    press K LEVEL       net K off | net K on      power K cut | power K on
    reboot K            console K TEXT            status
    battery K PERCENT   signal K DBM              sleep SECONDS       quit
    answer K N          answer site=SITE N

`answer` presses answer N (0 for the first on the kiosk's card) of the
consultation the kiosk takes now, or on every powered kiosk of SITE taking
one; it is refused when no consultation runs there. A kiosk's state (its
events and `status`) gives `campaign`, the consultation it takes (0:
satisfaction votes), and `buttons`, how many buttons it takes now.

Every line printed is one JSON object with an "ev" key: the board's events
(hello, vote, suppressed, led, state, error) with "kiosk" and "device"
added, the simulator's own (power, exit, crashed, status, ignored, refused)."""
import json
import random
import shlex
import sys
import threading
import time

USAGE = ("commands: press K LEVEL | answer K|site=SITE N | net K on|off | power K cut|on | "
         "reboot K | console K TEXT | battery K PERCENT | signal K DBM | status | "
         "sleep SECONDS | quit")

# Share of each button in random traffic, least satisfied first.
LEVEL_WEIGHTS = {2: (0.2, 0.8), 3: (0.12, 0.28, 0.6), 4: (0.06, 0.12, 0.34, 0.48)}


class CommandError(ValueError):
    pass


def parse(line):
    """One command line -> (name, args); CommandError with a readable message."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError as e:
        raise CommandError("cannot read %r: %s" % (line, e)) from None
    if not words:
        return None, ()
    name, args = words[0].lower(), words[1:]

    def need(n):
        if len(args) != n:
            raise CommandError("%s takes %d argument(s); %s" % (name, n, USAGE))

    if name in ("press", "answer"):
        need(2)
        try:
            level = int(args[1])
        except ValueError:
            raise CommandError("%s: %s must be a number, got %r"
                               % (name, "LEVEL" if name == "press" else "N", args[1])) from None
        return name, (args[0], level)
    if name in ("net", "power"):
        need(2)
        choices = ("on", "off") if name == "net" else ("on", "cut")
        if args[1].lower() not in choices:
            raise CommandError("%s K %s" % (name, "|".join(choices)))
        return name, (args[0], args[1].lower())
    if name in ("battery", "signal"):
        need(2)
        lo, hi = (0, 100) if name == "battery" else (-120, 0)
        try:
            value = int(args[1])
            if not lo <= value <= hi:
                raise ValueError
        except ValueError:
            raise CommandError("%s: %r is not a whole number from %d to %d"
                               % (name, args[1], lo, hi)) from None
        return name, (args[0], value)
    if name == "reboot":
        need(1)
        return name, (args[0],)
    if name == "console":
        if len(args) < 2:
            raise CommandError("console K TEXT")
        return name, (args[0], " ".join(args[1:]))
    if name in ("status", "quit", "exit"):
        need(0)
        return ("quit" if name == "exit" else name), ()
    if name == "sleep":
        need(1)
        try:
            return name, (min(float(args[0]), 3600.0),)
        except ValueError:
            raise CommandError("sleep SECONDS") from None
    raise CommandError("unknown command %r; %s" % (name, USAGE))


def run_command(fleet, name, args):
    """Apply one parsed command; return an event to print, or None."""
    if name == "status":
        return {"ev": "status", "kiosks": fleet.status()}
    if name == "sleep":
        time.sleep(args[0])
        return None
    if name == "answer":
        return answer(fleet, *args)
    try:
        kiosk = fleet.get(args[0])
    except KeyError as e:
        return {"ev": "refused", "msg": e.args[0]}
    if name == "press":
        buttons = kiosk.state.get("buttons") or 4
        if not 0 <= args[1] < buttons:
            return {"ev": "refused", "kiosk": kiosk.number,
                    "msg": "level %d: this kiosk has buttons 0..%d" % (args[1], buttons - 1)}
        if not kiosk.press(args[1]):
            return {"ev": "ignored", "kiosk": kiosk.number, "msg": "power off"}
    elif name == "net":
        kiosk.set_net(args[1] == "on")
        return {"ev": "net", "kiosk": kiosk.number, "up": args[1] == "on"}
    elif name == "power":
        if args[1] == "cut":
            kiosk.power_cut()
        else:
            kiosk.power_on()
    elif name in ("battery", "signal"):
        kiosk.set_surroundings(battery_command(args[1]) if name == "battery"
                               else {"cmd": "rssi", "dbm": args[1]})
    elif name == "reboot":
        if not kiosk.reboot():
            return {"ev": "ignored", "kiosk": kiosk.number, "msg": "power off"}
    elif name == "console":
        if not kiosk.console(args[1]):
            return {"ev": "ignored", "kiosk": kiosk.number, "msg": "power off"}
    return None


def answer(fleet, target, n):
    """Press answer n of the running consultation on kiosk `target`, or on
    every powered kiosk of a site (`site=SITE`) taking one; an event to
    print when refused, else None."""
    if target.startswith("site="):
        site = target[5:]
        kiosks = [k for k in fleet.kiosks if k.state.get("site") == site
                  and k.state.get("campaign") and k.state["power"]]
        if not kiosks:
            return {"ev": "refused", "msg": "no powered kiosk of site %s takes a consultation "
                                            "now" % site}
    else:
        try:
            kiosks = [fleet.get(target)]
        except KeyError as e:
            return {"ev": "refused", "msg": e.args[0]}
        if not kiosks[0].state.get("campaign"):
            return {"ev": "refused", "kiosk": kiosks[0].number,
                    "msg": "kiosk %s takes no consultation now" % target}
    for k in kiosks:
        answers = k.state.get("buttons") or 0
        if not 0 <= n < answers:
            return {"ev": "refused", "kiosk": k.number,
                    "msg": "answer %d: consultation %d has answers 0..%d on this kiosk"
                           % (n, k.state["campaign"], answers - 1)}
    for k in kiosks:
        if not k.press(n):
            fleet.emit({"ev": "ignored", "kiosk": k.number, "msg": "power off"})
    return None


def battery_command(percent):
    """The board's battery line for a charge level (a Li-ion cell, 3.3 to 4.2 V)."""
    return {"cmd": "battery", "pct": percent, "mv": 3300 + 9 * percent}


def random_level(buttons, rng=random):
    weights = LEVEL_WEIGHTS.get(buttons, LEVEL_WEIGHTS[4])
    return rng.choices(range(len(weights)), weights)[0]


class RandomPresses:
    """About `rate` presses per second over the fleet, at random times
    (Poisson arrivals) on random powered kiosks."""

    def __init__(self, fleet, rate, seed=None):
        self.fleet = fleet
        self.rate = rate
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="random presses")

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.rng.expovariate(self.rate)):
            powered = [k for k in self.fleet.kiosks if k.state["power"]]
            if powered:
                k = self.rng.choice(powered)
                k.press(random_level(k.state.get("buttons") or 4, self.rng))

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def json_printer(stream=None):
    stream = stream or sys.stdout

    def emit(event):
        event.setdefault("t_ms", int(time.time() * 1000))
        try:
            stream.write(json.dumps(event, separators=(",", ":")) + "\n")
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader went away; the fleet still stops cleanly
    return emit


def run(fleet, rate=None, stdin=None, seed=None):
    """Read commands until end of input or `quit` (with --rate, until a signal)."""
    stdin = stdin or sys.stdin
    presses = RandomPresses(fleet, rate, seed).start() if rate else None
    try:
        for line in stdin:
            try:
                name, args = parse(line)
            except CommandError as e:
                fleet.emit({"ev": "refused", "msg": str(e)})
                continue
            if name is None:
                continue
            if name == "quit":
                break
            event = run_command(fleet, name, args)
            if event:
                fleet.emit(event)
        else:
            if presses:
                threading.Event().wait()  # input closed: keep generating until a signal
    finally:
        if presses:
            presses.stop()
