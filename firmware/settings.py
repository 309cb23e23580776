# Provisioning (set over the serial console) and the server's last retained
# config, both kept in flash as small JSON files. LittleFS commits a file
# whole at close, so a power cut leaves the old or the new version.
# Provisioning's checks and `show config` are in commands.py, loaded only for
# such a console line.
import json

import kiosk_wire as w

DEFAULT_CONFIG = {
    "site": "", "buttons": 4, "campaign": 0, "lockout_s": 5, "sync_s": 30,
    "telemetry_s": 300, "batch": 50, "hours": {}, "tz": [],
}


BROKER_FORM = "broker must be mqtts://host:port, or mqtt://host:port (lab)"


def parse_broker(url):
    """mqtts://host:port (TLS, port 8883 by default) or mqtt://host:port
    (plain TCP, port 1883: the lab option) -> (tls, host, port); raise
    ValueError."""
    if url.startswith("mqtts://"):
        tls, rest, port = True, url[8:], 8883
    elif url.startswith("mqtt://"):
        tls, rest, port = False, url[7:], 1883
    else:
        raise ValueError(BROKER_FORM)
    if "@" in rest or "/" in rest.rstrip("/"):
        raise ValueError(BROKER_FORM)
    rest = rest.rstrip("/")
    if ":" in rest:
        rest, p = rest.rsplit(":", 1)
        port = int(p)
        if not 0 < port < 65536:
            raise ValueError("bad port")
    if not rest:
        raise ValueError("missing host")
    return tls, rest, port


class Settings:
    def __init__(self, base="", log=print):
        self.prov_path = base + "/prov.json"
        self.cfg_path = base + "/cfg.json"
        self.base = base
        self.log = log
        self.prov = {}
        self.config = dict(DEFAULT_CONFIG)
        self.config_raw = b""
        self.staged = None  # staging.py: values set after `begin`, kept until `commit`

    def load(self):
        try:
            with open(self.prov_path) as f:
                p = json.load(f)
            if isinstance(p, dict):
                self.prov = p
        except (OSError, ValueError):
            self.prov = {}
        try:
            with open(self.cfg_path, "rb") as f:
                raw = f.read()
            self.config = w.decode_config(raw)
            self.config_raw = raw
        except OSError:
            pass
        except ValueError as e:
            self.log("stored config refused: %s" % e)
        self._apply_prov_defaults()

    def _apply_prov_defaults(self):
        # Until the server's config arrives, provisioning sets site and buttons.
        if not self.config_raw:
            if self.prov.get("site"):
                self.config["site"] = self.prov["site"]
            if self.prov.get("buttons"):
                self.config["buttons"] = self.prov["buttons"]

    def provisioned(self):
        return bool(self.prov.get("device") and self.prov.get("broker"))

    def save_prov(self):
        with open(self.prov_path, "w") as f:
            json.dump(self.prov, f)

    def apply_config(self, raw):
        """Server config message: validate (raises WireError), persist if new."""
        raw = bytes(raw)
        cfg = w.decode_config(raw)
        self.config = cfg
        if raw != self.config_raw:
            self.config_raw = raw
            with open(self.cfg_path, "wb") as f:
                f.write(raw)
        return cfg
