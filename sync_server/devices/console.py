"""Talk to a kiosk's serial console (firmware/console.py) through pyserial:
one command line out, one `OK {json}` or `ERR code message` line back,
`LOG ` lines and anything else skipped. Every failure a technician can meet
at the USB port becomes a one-line CliError."""
from __future__ import annotations

import errno
import json
import time
from typing import Any

import serial

from sync_server.errors import CliError

BAUDRATE = 115200


class ConsoleError(Exception):
    """The kiosk answered `ERR code message`."""

    def __init__(self, command: str, code: str, message: str) -> None:
        super().__init__("kiosk refused %r: %s %s" % (command, code, message))
        self.code = code
        self.message = message


def open_port(port: str, baudrate: int = BAUDRATE) -> serial.SerialBase:
    """Open the port or raise a CliError that says what to do."""
    try:
        # A URL (socket://host:port, rfc2217://...) reaches a kiosk behind a
        # network serial bridge, as mpremote allows; a path opens a local port.
        return serial.serial_for_url(port, baudrate, timeout=0.1, write_timeout=2)
    except serial.SerialException as e:
        raise CliError(port_error_message(port, e)) from None
    except OSError as e:  # pyserial lets a few open() errors through unwrapped
        raise CliError(port_error_message(port, e)) from None


def port_error_message(port: str, err: Exception) -> str:
    code = getattr(err, "errno", None)
    if code == errno.ENOENT:
        return ("serial port %s not found: is the kiosk plugged in? "
                "(look for /dev/ttyUSB* or /dev/ttyACM*)" % port)
    if code in (errno.EACCES, errno.EPERM):
        return ("permission denied on serial port %s: add your user to the group that owns "
                "it (usually dialout: sudo usermod -aG dialout $USER, then log in again)" % port)
    if code == errno.EBUSY:
        return "serial port %s is busy: close the other program using it" % port
    if code in (errno.ENOTTY, errno.EINVAL):
        return "%s is not a serial port" % port
    reason = getattr(err, "strerror", None) or str(err)
    return "cannot open serial port %s: %s" % (port, reason)


class KioskConsole:
    """A kiosk's console on an open pyserial port. timeout: seconds to wait
    for each answer."""

    def __init__(self, port: str, timeout: float = 5.0, baudrate: int = BAUDRATE) -> None:
        self.port = port
        self.timeout = timeout
        self.ser = open_port(port, baudrate)
        self._buf = b""

    def close(self) -> None:
        self.ser.close()

    def __enter__(self) -> KioskConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readline(self, deadline):
        while b"\n" not in self._buf:
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = self.ser.read(self.ser.in_waiting or 1)
            except serial.SerialException as e:
                raise CliError("serial port %s stopped working: %s" % (self.port, e)) from None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").strip()

    def command(self, line: str, timeout: float | None = None) -> dict[str, Any]:
        """Send one command; return the answer's JSON object. Raises
        ConsoleError on `ERR`, CliError when nothing answers in time."""
        # Drop what the kiosk printed before (logs, a half line): the next
        # OK/ERR line is then the answer to this command.
        self.ser.reset_input_buffer()
        self._buf = b""
        try:
            self.ser.write(line.encode() + b"\n")
            self.ser.flush()
        except serial.SerialException as e:
            raise CliError("cannot write to serial port %s: %s" % (self.port, e)) from None
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        other = None
        prompt = False
        while True:
            text = self._readline(deadline)
            if text is None:
                hint = ""
                if prompt:
                    hint = ("; a MicroPython prompt answered: the Borne firmware is not "
                            "running (press Ctrl-D in a terminal to restart it, or deploy it "
                            "with `borne firmware deploy`)")
                elif other:
                    hint = "; it printed %r instead" % other[:60]
                raise CliError("no answer from the kiosk on %s to %r within %gs: is it powered "
                               "and running the Borne firmware at %d baud?%s"
                               % (self.port, _name(line), wait, self.ser.baudrate, hint))
            if text.startswith("OK"):
                body = text[2:].strip() or "{}"
                try:
                    answer = json.loads(body)
                except ValueError:
                    raise CliError("the kiosk on %s answered %r to %r: not JSON"
                                   % (self.port, text[:80], _name(line))) from None
                if not isinstance(answer, dict):
                    raise CliError("the kiosk on %s answered %r to %r: not a JSON object"
                                   % (self.port, text[:80], _name(line)))
                return answer
            if text.startswith("ERR"):
                parts = text.split(None, 2)
                code = parts[1] if len(parts) > 1 else "unknown"
                raise ConsoleError(_name(line), code,
                                   parts[2] if len(parts) > 2 else "")
            if text and not text.startswith("LOG "):
                other = text
                prompt = prompt or text.startswith(">>>") or text.startswith("Traceback")


def _name(line):
    """The command without its values (a secret must never reach a message)."""
    words = line.split()
    return " ".join(words[:2]) if words[:1] == ["set"] else (words[0] if words else "")
