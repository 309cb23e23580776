"""A kiosk's serial console exposed on a pseudo-terminal.

The firmware process's stdin/stdout is its UART. A pty stands in for the USB
serial adapter, so tools (pyserial, screen, the provisioning command) open
its path like a real port. The pty outlives the firmware process: a power cut
does not change the path. When nobody reads the port, output is dropped the
way a UART with nothing attached drops it, so the firmware never blocks."""
import errno
import os
import select
import termios
import threading
import tty

LOG_LIMIT = 1 << 20  # bytes of console output kept before rotating


class SerialPty:
    def __init__(self, log_path=None):
        self.master, self._slave = os.openpty()
        # Raw mode: no echo, no line editing, no CR/LF rewriting; bytes pass as sent.
        tty.setraw(self._slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._log_path = log_path
        self._log = open(log_path, "ab", buffering=0) if log_path else None
        self._sink = None          # fd of the running firmware's stdin
        self._sink_lock = threading.Lock()
        self._out_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump_input, daemon=True,
                                        name="pty-in %s" % self.path)
        self._thread.start()

    def attach(self, stdin_fd):
        """Send what is typed on the port to this fd (the new firmware's stdin).
        Non-blocking: a firmware that stops reading loses input, as a UART would."""
        os.set_blocking(stdin_fd, False)
        with self._sink_lock:
            self._sink = stdin_fd

    def detach(self, stdin_fd=None):
        """Stop writing to the firmware's stdin (to this fd only, if given). Once
        this returns, nothing writes to that fd any more, so it may be closed."""
        with self._sink_lock:
            if stdin_fd is None or self._sink == stdin_fd:
                self._sink = None

    def write_input(self, data):
        """Bytes to the firmware's stdin, as if typed on the port; False if off."""
        with self._sink_lock:
            if self._sink is None:
                return False  # power off: the UART is dead, typed bytes are lost
            try:
                os.write(self._sink, data)
            except BlockingIOError:
                pass  # the firmware is not reading: the bytes overflow
            except OSError:
                return False  # it died between two checks: same as power off
            return True

    def output(self, data):
        """Firmware output: to the port (dropped if nobody drains it) and the log."""
        with self._out_lock:  # the dying and the new firmware may both be writing
            if self._stop.is_set():
                return  # closed: the fds may already belong to something else
            self._write_log(data)
            try:
                os.write(self.master, data)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EIO):
                    raise

    def _write_log(self, data):
        if not self._log or self._log.closed:
            return
        self._log.write(data)
        if self._log.tell() > LOG_LIMIT:
            # Keep the latest output and one older file: a demo runs for days.
            self._log.close()
            os.replace(self._log_path, self._log_path + ".1")
            self._log = open(self._log_path, "ab", buffering=0)

    def _pump_input(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    continue
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            self.write_input(data)

    def close(self):
        with self._out_lock:
            if self._stop.is_set():
                return
            self._stop.set()
        self._thread.join(2)
        with self._out_lock:
            for fd in (self.master, self._slave):
                os.close(fd)
            if self._log:
                self._log.close()
