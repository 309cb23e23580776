"""A fleet of simulated kiosks sharing one state folder.

The folder keeps each kiosk's credentials (`kiosks.json`) and flash image
(`<device>/flash.img`), so running the simulator again brings back the same
kiosks with their journals, as rebooting real ones would."""
import json
import os
import threading

from simulator.kiosk import Kiosk

CREDENTIALS = "kiosks.json"


class Fleet:
    def __init__(self, workdir, emit, broker=None, micropython=None):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self._emit_lock = threading.Lock()
        self._emit = emit
        self.broker = broker
        self.micropython = micropython
        self.kiosks = []

    def emit(self, event):
        with self._emit_lock:
            self._emit(event)

    # -- credentials ----------------------------------------------------------

    def load_credentials(self):
        path = os.path.join(self.workdir, CREDENTIALS)
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return json.load(f)["kiosks"]

    def save_credentials(self, creds):
        path = os.path.join(self.workdir, CREDENTIALS)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds secrets
        with os.fdopen(fd, "w") as f:
            json.dump({"kiosks": creds}, f, indent=1)
        os.replace(tmp, path)

    # -- kiosks ---------------------------------------------------------------

    def add(self, cred):
        """cred: {"device_id", "secret", "site"?, "buttons"?}: one kiosk, not started."""
        device = cred["device_id"]
        seed = {"device": device, "user": device, "pass": cred.get("secret"),
                "broker": cred.get("broker") or self.broker, "site": cred.get("site"),
                "buttons": cred.get("buttons")}
        kiosk = Kiosk(len(self.kiosks) + 1, os.path.join(self.workdir, device), seed,
                      self.emit, micropython=self.micropython)
        self.kiosks.append(kiosk)
        return kiosk

    def add_unprovisioned(self, n):
        """Kiosk n (1, 2, ...) as it leaves the factory: no identity, credentials or
        broker in its flash until a technician provisions it over its serial
        console. Its flash image is kept between runs, like the others'."""
        kiosk = Kiosk(len(self.kiosks) + 1, os.path.join(self.workdir, "unprovisioned-%d" % n),
                      {}, self.emit, micropython=self.micropython)
        self.kiosks.append(kiosk)
        return kiosk

    def get(self, ref):
        """A kiosk by number (1, 2, ...) or device id; KeyError with a message."""
        for k in self.kiosks:
            if str(k.number) == str(ref) or k.device == ref:
                return k
        raise KeyError("no kiosk %r (kiosks: 1..%d or a device id)" % (ref, len(self.kiosks)))

    def power_on_all(self):
        for k in self.kiosks:
            k.power_on()

    def status(self):
        return [k.snapshot() for k in self.kiosks]

    def close(self):
        for k in self.kiosks:
            k.close()
