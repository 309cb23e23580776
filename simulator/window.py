"""The simulator's Tk window: one panel per kiosk with its smiley buttons,
the thank-you feedback, its LEDs and state, and the network and power
switches. French by default, English with the language button.

Board events arrive on background threads; they go through a queue that
the Tk main loop drains, since Tk may only be touched from its own thread."""
import queue
import signal
import sys

from simulator.headless import json_printer
from sync_server.errors import CliError

TEXT = {
    "fr": {
        "title": "Borne : simulateur",
        "lang": "English",
        "help": "Cliquez un visage, ou touches 1 à 4 pour la borne sélectionnée "
                "(1 = pas satisfait ; Tab : borne suivante).",
        "thanks": "Merci !",
        "suppressed": "Déjà pris en compte",
        "no_power": "Borne éteinte",
        "net_off": "Couper le réseau",
        "net_on": "Rétablir le réseau",
        "power_cut": "Couper le courant",
        "power_on": "Rallumer",
        "reboot": "Redémarrer",
        "power": "Alimentation",
        "on": "allumée",
        "off": "éteinte",
        "network": "Réseau",
        "net_up": "branché",
        "net_down": "coupé",
        "mqtt": "Serveur",
        "mqtt_up": "connecté",
        "mqtt_down": "déconnecté",
        "journal": "Votes en attente",
        "clock": "Horloge",
        "clock_unknown": "inconnue",
        "clock_ntp": "NTP",
        "clock_server": "serveur",
        "clock_rtc": "RTC",
        "seq": "Dernier vote / acquitté",
        "serial": "Console série",
        "led_thanks": "merci",
        "led_offline": "hors ligne",
        "led_error": "erreur",
        "crashed": "Le micrologiciel s'arrête au démarrage : voir",
    },
    "en": {
        "title": "Borne: simulator",
        "lang": "Français",
        "help": "Click a face, or keys 1 to 4 for the selected kiosk (1 = not satisfied; "
                "Tab: next kiosk).",
        "thanks": "Thank you!",
        "suppressed": "Already counted",
        "no_power": "Kiosk switched off",
        "net_off": "Cut the network",
        "net_on": "Restore the network",
        "power_cut": "Cut the power",
        "power_on": "Power on",
        "reboot": "Reboot",
        "power": "Power",
        "on": "on",
        "off": "off",
        "network": "Network",
        "net_up": "plugged in",
        "net_down": "cut",
        "mqtt": "Server",
        "mqtt_up": "connected",
        "mqtt_down": "disconnected",
        "journal": "Votes pending",
        "clock": "Clock",
        "clock_unknown": "unknown",
        "clock_ntp": "NTP",
        "clock_server": "server",
        "clock_rtc": "RTC",
        "seq": "Last vote / acknowledged",
        "serial": "Serial console",
        "led_thanks": "thanks",
        "led_offline": "offline",
        "led_error": "error",
        "crashed": "The firmware stops at start-up: see",
    },
}

# Faces from least to most satisfied, for 2, 3 and 4 buttons: (colour, mouth curve).
FACES = {
    2: (("#d7263d", -1.0), ("#3f8f29", 1.0)),
    3: (("#d7263d", -1.0), ("#f2b134", 0.0), ("#3f8f29", 1.0)),
    4: (("#d7263d", -1.0), ("#f28c28", -0.4), ("#9bc53d", 0.4), ("#3f8f29", 1.0)),
}
LEDS = ("thanks", "offline", "error")
LED_COLOURS = {"thanks": "#34c759", "offline": "#ff9500", "error": "#ff3b30"}
FACE = 76          # diameter of a smiley, pixels
FEEDBACK_MS = 1800  # how long the thank-you stays


class KioskPanel:
    def __init__(self, app, parent, kiosk):
        import tkinter as tk

        self.app = app
        self.kiosk = kiosk
        self.buttons = kiosk.seed.get("buttons") or 4
        self.leds = {name: False for name in LEDS}
        self.frame = tk.Frame(parent, bd=3, relief="groove", padx=8, pady=6)
        self.title = tk.Label(self.frame, font=("DejaVu Sans", 12, "bold"), anchor="w")
        self.title.grid(row=0, column=0, columnspan=3, sticky="we")
        self.canvas = tk.Canvas(self.frame, width=4 * (FACE + 12), height=FACE + 16,
                                highlightthickness=0, bg="#f4f1ea")
        self.canvas.grid(row=1, column=0, columnspan=3, pady=4)
        self.feedback = tk.Label(self.frame, font=("DejaVu Sans", 14, "bold"), height=1,
                                 width=22)
        self.feedback.grid(row=2, column=0, columnspan=3)
        self.led_canvas = tk.Canvas(self.frame, width=4 * (FACE + 12), height=22,
                                    highlightthickness=0)
        self.led_canvas.grid(row=3, column=0, columnspan=3)
        self.info = tk.Label(self.frame, justify="left", anchor="w",
                             font=("DejaVu Sans Mono", 10))
        self.info.grid(row=4, column=0, columnspan=3, sticky="we", pady=4)
        # Wide enough for every label they take, so the layout never jumps.
        self.net_btn = tk.Button(self.frame, command=self.toggle_net,
                                 width=_widest("net_off", "net_on"))
        self.net_btn.grid(row=5, column=0, sticky="we")
        self.power_btn = tk.Button(self.frame, command=self.toggle_power,
                                   width=_widest("power_cut", "power_on"))
        self.power_btn.grid(row=5, column=1, sticky="we")
        self.reboot_btn = tk.Button(self.frame, command=kiosk.reboot, width=_widest("reboot"))
        self.reboot_btn.grid(row=5, column=2, sticky="we")
        for w in (self.frame, self.title, self.info, self.feedback, self.led_canvas):
            w.bind("<Button-1>", lambda e: self.app.select(self))
        self._feedback_job = None
        self.draw_faces()
        self.refresh()

    def draw_faces(self):
        c = self.canvas
        c.delete("all")
        faces = FACES[self.buttons]
        width = len(faces) * (FACE + 12)
        c.configure(width=width)
        for level, (colour, curve) in enumerate(faces):
            x0, y0 = 6 + level * (FACE + 12), 8
            tag = "face%d" % level
            c.create_oval(x0, y0, x0 + FACE, y0 + FACE, fill=colour, outline="#333",
                          width=2, tags=tag)
            for ex in (0.33, 0.67):
                cx, cy = x0 + ex * FACE, y0 + 0.38 * FACE
                c.create_oval(cx - 5, cy - 6, cx + 5, cy + 6, fill="#222", tags=tag)
            # Mouth: a three-point line whose middle goes down (smile) or up (frown).
            mx0, mx1, my = x0 + 0.28 * FACE, x0 + 0.72 * FACE, y0 + 0.68 * FACE
            dip = curve * 0.14 * FACE
            c.create_line(mx0, my - dip / 2, (mx0 + mx1) / 2, my + dip, mx1, my - dip / 2,
                          smooth=True, width=4, fill="#222", capstyle="round", tags=tag)
            # The key that presses this face, in a corner badge.
            c.create_oval(x0 + FACE - 20, y0 + FACE - 20, x0 + FACE + 2, y0 + FACE + 2,
                          fill="white", outline="#333", tags=tag)
            c.create_text(x0 + FACE - 9, y0 + FACE - 9, text=str(level + 1),
                          font=("DejaVu Sans", 10, "bold"), fill="#222", tags=tag)
            c.tag_bind(tag, "<Button-1>", lambda e, lv=level: self.press(lv))

    def press(self, level):
        self.app.select(self)
        if level < self.buttons and not self.kiosk.press(level):
            self.show_feedback("no_power", "#616161")

    def toggle_net(self):
        self.kiosk.set_net(not self.kiosk.state["net"])
        self.refresh()

    def toggle_power(self):
        if self.kiosk.state["power"]:
            self.kiosk.power_cut()
            self.leds = {name: False for name in LEDS}
        else:
            self.kiosk.power_on()
        self.refresh()

    def show_feedback(self, key, colour):
        self.feedback.configure(text=self.app.t(key), bg=colour, fg="white")
        if self._feedback_job:
            self.frame.after_cancel(self._feedback_job)
        self._feedback_job = self.frame.after(FEEDBACK_MS, self.clear_feedback)

    def clear_feedback(self):
        self._feedback_job = None
        self.feedback.configure(text="", bg=self.frame.cget("bg"))

    def on_event(self, event):
        kind = event.get("ev")
        if kind == "vote":
            self.show_feedback("thanks", "#2e7d32")
        elif kind == "suppressed":
            self.show_feedback("suppressed", "#757575")
        elif kind == "led" and event.get("name") in self.leds:
            self.leds[event["name"]] = bool(event.get("on"))
        elif kind == "hello" and event.get("buttons") in FACES:
            if event["buttons"] != self.buttons:
                self.buttons = event["buttons"]
                self.draw_faces()
        elif kind == "power" and not event.get("on"):
            self.leds = {name: False for name in LEDS}
        elif kind == "crashed":
            self.feedback.configure(text=self.app.t("crashed"), bg="#b71c1c", fg="white")
        if kind == "state" and event.get("buttons") in FACES and \
                event["buttons"] != self.buttons:
            self.buttons = event["buttons"]
            self.draw_faces()
        self.refresh()

    def refresh(self):
        t = self.app.t
        s = self.kiosk.state
        site = s.get("site") or self.kiosk.seed.get("site") or ""
        device = self.kiosk.device or "?"
        if site and not device.startswith(site):
            device += "  (" + site + ")"
        self.title.configure(text="%d. %s" % (self.kiosk.number, device))
        clock = s.get("clock")
        lines = [
            "%-24s %s" % (t("power"), t("on") if s["power"] else t("off")),
            "%-24s %s" % (t("network"), t("net_up") if s["net"] else t("net_down")),
            "%-24s %s" % (t("mqtt"), t("mqtt_up") if s.get("mqtt") == "up" else t("mqtt_down")),
            "%-24s %s" % (t("journal"), "-" if s.get("journal") is None else s["journal"]),
            "%-24s %s" % (t("clock"), t("clock_" + clock) if clock in
                          ("unknown", "ntp", "server", "rtc") else "-"),
            "%-24s %s / %s" % (t("seq"), _dash(s.get("seq", s.get("last_seq"))),
                               _dash(s.get("acked"))),
            "%-24s %s" % (t("serial"), self.kiosk.serial.path),
        ]
        self.info.configure(text="\n".join(lines))
        self.net_btn.configure(text=t("net_off") if s["net"] else t("net_on"))
        self.power_btn.configure(text=t("power_cut") if s["power"] else t("power_on"))
        self.reboot_btn.configure(text=t("reboot"),
                                  state="normal" if s["power"] else "disabled")
        lc = self.led_canvas
        lc.delete("all")
        for i, name in enumerate(LEDS):
            x = 8 + i * 110
            on = self.leds[name] and s["power"]
            lc.create_oval(x, 4, x + 14, 18, fill=LED_COLOURS[name] if on else "#cfcfcf",
                           outline="#555")
            lc.create_text(x + 20, 11, text=t("led_" + name), anchor="w",
                           font=("DejaVu Sans", 9))

    def set_selected(self, selected):
        self.frame.configure(relief="solid" if selected else "groove",
                             highlightthickness=2 if selected else 0,
                             highlightbackground="#1565c0")


class SimWindow:
    def __init__(self, root, fleet, events, echo):
        import tkinter as tk

        self.root = root
        self.fleet = fleet
        self.events = events
        self.echo = echo
        self.lang = "fr"
        self.closing = False
        top = tk.Frame(root, padx=8, pady=6)
        top.pack(fill="x")
        self.help = tk.Label(top, anchor="w", font=("DejaVu Sans", 10))
        self.help.pack(side="left", fill="x", expand=True)
        self.lang_btn = tk.Button(top, command=self.toggle_lang)
        self.lang_btn.pack(side="right")
        body = self._scrolled_body(root)
        self.panels = {}
        for i, kiosk in enumerate(fleet.kiosks):
            self.panels[kiosk.number] = KioskPanel(self, body, kiosk)
            self.panels[kiosk.number].frame.grid(row=i, column=0)
        # As many panels per row as the screen's width allows (at most 3).
        body.update_idletasks()
        widest = max([p.frame.winfo_reqwidth() for p in self.panels.values()] or [1])
        per_row = max(1, min(3, (root.winfo_screenwidth() - 40) // (widest + 12)))
        for i, panel in enumerate(self.panels.values()):
            panel.frame.grid(row=i // per_row, column=i % per_row, padx=6, pady=6, sticky="n")
        self.selected = None
        if self.panels:
            self.select(self.panels[fleet.kiosks[0].number])
        for key in "1234":
            root.bind(key, lambda e, lv=int(key) - 1: self.key_press(lv))
        root.bind("<Tab>", lambda e: self.select_next())
        root.protocol("WM_DELETE_WINDOW", self.close)
        self.retranslate()
        root.after(50, self.poll)

    def _scrolled_body(self, root):
        """A frame inside a canvas with a vertical scroll bar, for large fleets."""
        import tkinter as tk

        outer = tk.Frame(root)
        outer.pack(fill="both", expand=True)
        canvas = tk.Canvas(outer, highlightthickness=0)
        bar = tk.Scrollbar(outer, orient="vertical", command=canvas.yview)
        canvas.configure(yscrollcommand=bar.set)
        bar.pack(side="right", fill="y")
        canvas.pack(side="left", fill="both", expand=True)
        body = tk.Frame(canvas, padx=6, pady=6)
        canvas.create_window((0, 0), window=body, anchor="nw")

        def fit(event):
            # As large as the panels, up to the screen; scroll beyond that.
            canvas.configure(scrollregion=canvas.bbox("all"),
                             width=min(body.winfo_reqwidth(), root.winfo_screenwidth() - 30),
                             height=min(body.winfo_reqheight(), root.winfo_screenheight() - 80))
        body.bind("<Configure>", fit)
        for wheel in ("<Button-4>", "<Button-5>"):
            root.bind(wheel, lambda e: canvas.yview_scroll(-1 if e.num == 4 else 1, "units"))
        return body

    def t(self, key):
        return TEXT[self.lang][key]

    def toggle_lang(self):
        self.lang = "en" if self.lang == "fr" else "fr"
        self.retranslate()

    def retranslate(self):
        self.root.title(self.t("title"))
        self.help.configure(text=self.t("help"))
        self.lang_btn.configure(text=self.t("lang"))
        for p in self.panels.values():
            p.refresh()

    def select(self, panel):
        if self.selected is not None:
            self.selected.set_selected(False)
        self.selected = panel
        panel.set_selected(True)

    def select_next(self):
        panels = list(self.panels.values())
        if panels:
            i = panels.index(self.selected) if self.selected in panels else -1
            self.select(panels[(i + 1) % len(panels)])
        return "break"

    def key_press(self, level):
        if self.selected is not None:
            self.selected.press(level)

    def poll(self):
        if self.closing:
            self.close()
            return
        try:
            while True:
                event = self.events.get_nowait()
                self.echo(event)
                panel = self.panels.get(event.get("kiosk"))
                if panel is not None:
                    panel.on_event(event)
        except queue.Empty:
            pass
        self.root.after(50, self.poll)

    def close(self):
        self.fleet.close()
        self.root.destroy()


def _widest(*keys):
    return max(len(TEXT[lang][key]) for lang in TEXT for key in keys)


def _dash(value):
    return "-" if value is None else value


def run(args, prepare_fleet):
    """`borne sim` with a window; also prints the events as JSON lines."""
    try:
        import tkinter as tk
    except ImportError:
        raise CliError("Tk is not available in this Python: use --headless") from None
    try:
        root = tk.Tk(className="borne-sim")
    except tk.TclError as e:
        raise CliError("cannot open a window (%s): use --headless" % e) from None
    events = queue.Queue()
    fleet = prepare_fleet(args, events.put)
    window = SimWindow(root, fleet, events, json_printer(sys.stdout))

    def on_signal(signum, frame):
        window.closing = True  # the next poll closes everything from Tk's thread
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    fleet.power_on_all()
    if args.rate:
        from simulator.headless import RandomPresses

        presses = RandomPresses(fleet, args.rate, args.seed).start()
    try:
        root.mainloop()
    finally:
        if args.rate:
            presses.stop()
        fleet.close()
    return 0
