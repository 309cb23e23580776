# The console's commands other than `press` and `status`, and provisioning's
# checks: loaded for the line that needs them and dropped after it
# (console.py), so their code takes no heap while the kiosk runs.
import settings
from console import CommandError
from version import FW

import kiosk_wire as w

PROV_KEYS = ("device", "broker", "user", "secret", "wifi_ssid", "wifi_pass", "site", "buttons")
SET_KEYS = ("broker", "device", "secret", "site", "user", "buttons", "fwkey")
STAGING = ("begin", "commit", "abort", "wipe")


def command(con, words):
    k = con.k
    cmd = words[0]
    args = words[1:]
    if cmd == "version":
        return {"fw": FW, "proto": w.VERSION, "board": con.board.name}
    if cmd in STAGING or cmd == "show" and args == ["staged"]:
        import staging
        return staging.command(k, cmd, args)
    if cmd == "show":
        if args != ["config"]:
            raise CommandError("usage", "show config")
        return public(k.settings)
    if cmd == "journal":
        s = k.journal.stats()
        s["bytes_free"] = con.board.fs_free()
        return s
    if cmd == "set":
        return set_cmd(k.settings, args)
    if cmd == "reboot":
        con.board.request_reboot()
        return {}
    raise CommandError("unknown", "command %s (version, status, show config, journal, "
                       "set, begin, show staged, commit, abort, press, wipe, "
                       "reboot)" % cmd)


def set_cmd(s, args):
    if not args:
        raise CommandError("usage",
                           "set wifi|broker|device|user|secret|site|buttons|ca|fwkey VALUE")
    what = args[0]
    if what == "ca" and len(args) == 2:
        if s.staged is not None:
            import staging
            return staging.stage_ca(s, args[1])
        import tlsca  # the broker's CA, DER in base64; "-" removes it
        return {"ca": tlsca.pin(s.base, args[1])}
    if what == "wifi":
        if len(args) != 3:
            raise CommandError("usage", "set wifi SSID PASS")
        set_prov(s, "wifi_ssid", args[1])
        set_prov(s, "wifi_pass", args[2])
        return {"wifi_ssid": args[1]}
    if what not in SET_KEYS:
        raise CommandError("unknown", "setting %s" % what)
    if len(args) != 2:
        raise CommandError("usage", "set %s VALUE" % what)
    set_prov(s, what, args[1])
    if what == "secret":
        return {"secret_set": True}
    return {what: (s.prov if s.staged is None else s.staged[0])[what]}


def seed(s, values):
    """First boot of a blank flash: take provisioning from the caller."""
    if s.prov:
        return False
    p = {}
    for k in PROV_KEYS:
        if values.get(k) is not None:
            p[k] = values[k]
    if p:
        s.prov = p
        s.save_prov()
        s._apply_prov_defaults()
    return bool(p)


def set_prov(s, key, value):
    """Validate, store and persist one provisioning value (kept in RAM
    until `commit` after `begin`)."""
    if key == "device":
        if not w.valid_device_id(value):
            raise ValueError("device id: 1..32 of A-Z a-z 0-9 - _")
    elif key == "broker":
        settings.parse_broker(value)
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
    elif key == "site":
        if not 0 < len(value) <= 64:
            raise ValueError("site: 1..64 characters")
    elif key == "fwkey":  # the Ed25519 key releases are signed with, in hex
        if len(value) != 64 or value.strip("0123456789abcdef"):
            raise ValueError("fwkey: 64 lowercase hex digits")
    if s.staged is not None:
        s.staged[0][key] = value
        return
    s.prov[key] = value
    s.save_prov()
    s._apply_prov_defaults()


def public(s):
    """`show config`."""
    p = s.prov
    c = s.config
    return {
        "device": p.get("device"), "broker": p.get("broker"),
        "user": p.get("user") or p.get("device"), "secret_set": bool(p.get("secret")),
        "wifi_ssid": p.get("wifi_ssid"), "site": c["site"], "buttons": c["buttons"],
        "campaign": c["campaign"], "answers": c.get("answers", 0),
        "lockout_s": c["lockout_s"], "sync_s": c["sync_s"],
        "telemetry_s": c["telemetry_s"], "batch": c["batch"],
        "hours": bool(c["hours"]), "server_config": bool(s.config_raw),
        "ca": ca_shown(s.base), "fwkey": p.get("fwkey"),
    }


def ca_shown(base):
    try:
        open(base + "/ca.der").close()
    except OSError:
        return None  # plain TCP lab kiosk: no need to load the TLS code
    import tlsca
    return tlsca.shown(base)
