# Provisioning (set over the serial console) and the server's last retained
# config, both kept in flash as small JSON files. LittleFS commits a file
# whole at close, so a power cut leaves the old or the new version.
import json

import kiosk_wire as w

PROV_KEYS = ("device", "broker", "user", "secret", "wifi_ssid", "wifi_pass", "site", "buttons")

DEFAULT_CONFIG = {
    "site": "", "buttons": 4, "lockout_s": 5, "sync_s": 30, "telemetry_s": 300,
    "batch": 50, "hours": {}, "tz": [],
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

    def seed(self, values):
        """First boot of a blank flash: take provisioning from the caller."""
        if self.prov:
            return False
        p = {}
        for k in PROV_KEYS:
            if values.get(k) is not None:
                p[k] = values[k]
        if p:
            self.prov = p
            self.save_prov()
            self._apply_prov_defaults()
        return bool(p)

    def set_prov(self, key, value):
        """Validate, store and persist one provisioning value."""
        if key == "device":
            if not w.valid_device_id(value):
                raise ValueError("device id: 1..32 of A-Z a-z 0-9 - _")
        elif key == "broker":
            parse_broker(value)
        elif key == "buttons":
            value = int(value)
            if not 2 <= value <= 4:
                raise ValueError("buttons must be 2..4")
        elif key == "user":
            if not w.valid_device_id(value):
                raise ValueError("user: 1..32 of A-Z a-z 0-9 - _")
        elif key == "wifi_ssid" or key == "wifi_pass":
            if len(value.encode()) > 64 or not value and key == "wifi_ssid":
                raise ValueError("Wi-Fi name: 1..32 bytes, password: at most 64")
        elif key == "fwkey":  # the Ed25519 key releases are signed with, in hex
            if len(value) != 64 or value.strip("0123456789abcdef"):
                raise ValueError("fwkey: 64 lowercase hex digits")
        elif key == "site":
            if not 0 < len(value) <= 64:
                raise ValueError("site: 1..64 characters")
        if self.staged is not None:
            self.staged[0][key] = value
            return
        self.prov[key] = value
        self.save_prov()
        self._apply_prov_defaults()

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

    def public(self):
        p = self.prov
        c = self.config
        return {
            "device": p.get("device"), "broker": p.get("broker"),
            "user": p.get("user") or p.get("device"), "secret_set": bool(p.get("secret")),
            "wifi_ssid": p.get("wifi_ssid"), "site": c["site"], "buttons": c["buttons"],
            "lockout_s": c["lockout_s"], "sync_s": c["sync_s"],
            "telemetry_s": c["telemetry_s"], "batch": c["batch"],
            "hours": bool(c["hours"]), "server_config": bool(self.config_raw),
            "ca": self.ca_shown(), "fwkey": p.get("fwkey"),
        }

    def ca_shown(self):
        try:
            open(self.base + "/ca.der").close()
        except OSError:
            return None  # plain TCP lab kiosk: no need to load the TLS code
        import tlsca
        return tlsca.shown(self.base)
