# Serial console: one command per line, one answer per line,
# "OK {json}" or "ERR code message". Log lines start with "LOG ".
# Provisioning lines (begin, commit, wipe, quoted values) live in staging.py,
# loaded only when one comes.
import asyncio
import json

from version import FW

import kiosk_wire as w

STAGING = ("begin", "commit", "abort", "wipe")
SET_KEYS = {"broker": "broker", "device": "device", "secret": "secret", "site": "site",
            "user": "user", "buttons": "buttons", "fwkey": "fwkey"}


class Console:
    def __init__(self, kiosk):
        self.k = kiosk
        self.board = kiosk.board

    async def run(self):
        reader = self.board.console_reader()
        if reader is None:
            return
        while True:
            line = await reader.readline()
            if not line:
                await asyncio.sleep_ms(200)  # console closed: keep the kiosk running
                continue
            try:
                line = line.decode().strip()
            except UnicodeError:
                self.board.console_write("ERR value not UTF-8 text")
                continue
            if line:
                self.board.console_write(self.handle(line))

    def handle(self, line):
        try:
            if '"' in line:
                import staging
                words = staging.split_words(line)
            else:
                words = line.split()
            return "OK " + json.dumps(self.command(words))
        except CommandError as e:
            return "ERR %s %s" % (e.code, e.msg)
        except ValueError as e:
            return "ERR value %s" % (e,)
        except OSError as e:
            self.board.flash_error(e)
            return "ERR state flash error %s" % (e,)
        except MemoryError:
            return "ERR state out of memory"  # the console stays up

    def command(self, words):
        k = self.k
        cmd = words[0]
        args = words[1:]
        if cmd == "version":
            return {"fw": FW, "proto": w.VERSION, "board": self.board.name}
        if cmd == "status":
            return k.status()
        if cmd in STAGING or cmd == "show" and args == ["staged"]:
            import staging
            return staging.command(k, cmd, args)
        if cmd == "show":
            if args != ["config"]:
                raise CommandError("usage", "show config")
            return k.settings.public()
        if cmd == "journal":
            s = k.journal.stats()
            s["bytes_free"] = self.board.fs_free()
            return s
        if cmd == "set":
            return self.set(args)
        if cmd == "press":
            if len(args) != 1:
                raise CommandError("usage", "press BUTTON")
            kind, val = k.press(int(args[0]))
            if kind == "vote":
                return {"seq": val}
            if kind == "suppressed":
                return {"suppressed": val}
            raise CommandError("state", val)
        if cmd == "reboot":
            self.board.request_reboot()
            return {}
        raise CommandError("unknown", "command %s (version, status, show config, journal, "
                           "set, begin, show staged, commit, abort, press, wipe, "
                           "reboot)" % cmd)

    def set(self, args):
        s = self.k.settings
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
            s.set_prov("wifi_ssid", args[1])
            s.set_prov("wifi_pass", args[2])
            return {"wifi_ssid": args[1]}
        key = SET_KEYS.get(what)
        if key is None:
            raise CommandError("unknown", "setting %s" % what)
        if len(args) != 2:
            raise CommandError("usage", "set %s VALUE" % what)
        s.set_prov(key, args[1])
        if key == "secret":
            return {"secret_set": True}
        return {key: (s.prov if s.staged is None else s.staged[0])[key]}


class CommandError(Exception):
    def __init__(self, code, msg):
        self.code = code
        self.msg = msg
