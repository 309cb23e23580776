"""A running `borne serve` with one site and its QR token, for the QR form
tests, and a small HTTP client that can speak from a chosen loopback
address (Linux routes all of 127.0.0.0/8 to lo), with its own cookies."""
import http.client
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlencode, urlsplit

from tests import realparts

BORNE = os.path.join(os.path.dirname(sys.executable), "borne")
SITE = "mairie-test"
SITE_NAME = "Mairie de Test-sur-Loire"


def borne(*args, check=True):
    out = subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError("borne %s failed: %s" % (" ".join(args), out.stderr))
    return out


class Server:
    def __init__(self, workdir):
        self.dir = str(workdir)
        self.db = os.path.join(self.dir, "borne.db")
        self.port = realparts.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.dir, "serve.log")
        self.proc = None

    def start(self):
        borne("site", "add", SITE, "--name", SITE_NAME, "--buttons", "4", "--db", self.db)
        url = borne("qr", SITE, "--base-url", self.base, "--db", self.db).stdout.split()[-1]
        self.token = url.rsplit("/", 1)[1]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BORNE, "serve", "--db", self.db, "--http", "127.0.0.1:%d" % self.port,
             "--broker-port", "0"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                if b"borne: serving" in f.read():
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(self.log_path, "rb") as f:
            raise RuntimeError("borne serve did not start: %s" % f.read()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode("utf-8", "replace")


class Client:
    """One 'device': its own cookies, speaking from `source` (127.x.y.z)."""

    def __init__(self, server, source="127.0.0.1"):
        self.server, self.source = server, source
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10,
                                          source_address=(self.source, 0))
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            out = Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()
        for name, value in out.headers:
            if name.lower() == "set-cookie":
                k, _, v = value.split(";", 1)[0].partition("=")
                self.cookies[k.strip()] = v.strip()
        return out

    def get(self, path):
        return self.request("GET", path)

    def form_path(self, lang=None):
        return "/f/%s%s" % (self.server.token, "?lang=" + lang if lang else "")

    def csrf(self, lang=None):
        page = self.get(self.form_path(lang))
        assert page.status == 200, page.text
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def post(self, fields, path=None, raw=None):
        body = raw if raw is not None else urlencode(fields, doseq=True).encode()
        return self.request("POST", path or self.form_path(), body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def answer(self, level=3, topics=(), comment="", lang="fr"):
        """Load the form, then send it as a browser would."""
        fields = {"csrf": self.csrf(), "lang": lang, "level": str(level),
                  "topics": list(topics), "comment": comment}
        return self.post(fields)


def location(resp):
    return urlsplit(dict((k.lower(), v) for k, v in resp.headers).get("location", "")).path
