# Serial console: one command per line, one answer per line,
# "OK {json}" or "ERR code message". Log lines start with "LOG ".
# `press` and `status` are answered here; every other command lives in
# commands.py, provisioning lines (begin, commit, wipe, quoted values) in
# staging.py: both are loaded for the line that needs them and dropped after
# it, so their code takes no heap while the kiosk runs.
import asyncio
import gc
import json
import sys


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
                gc.collect()  # room for the occasional code in one piece
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
        finally:
            # Forgotten: the next collection frees their code (the names
            # they brought stay interned).
            sys.modules.pop("commands", None)
            sys.modules.pop("staging", None)

    def command(self, words):
        k = self.k
        cmd = words[0]
        if cmd == "press":
            if len(words) != 2:
                raise CommandError("usage", "press BUTTON")
            kind, val = k.press(int(words[1]))
            if kind == "vote":
                return {"seq": val}
            if kind == "suppressed":
                return {"suppressed": val}
            raise CommandError("state", val)
        if cmd == "status":
            return k.status()
        gc.collect()  # room for the occasional code in one piece
        import commands
        return commands.command(self, words)


class CommandError(Exception):
    def __init__(self, code, msg):
        self.code = code
        self.msg = msg
