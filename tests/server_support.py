"""Helpers for the sync-server tests: a registry with kiosks, a Python
stand-in for a kiosk's sync loop (journal, batches, resend until the
application ack), `borne serve` as a subprocess (alone, or with one site and
its QR token), and a small HTTP client that can speak from a chosen loopback
address (Linux routes all of 127.0.0.0/8 to lo), with its own cookies."""
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

import paho.mqtt.client as mqtt
import pytest

from protocol import server_wire as w
from sync_server.broker import mosquitto as broker_config
from sync_server.storage import registry, tokens
from sync_server.storage.connection import connect
from tests import realparts

BORNE = os.path.join(os.path.dirname(sys.executable), "borne")
T0 = 1795000000000  # 2026-11-18, a plausible UTC time for votes
SITE = "mairie-test"
SITE_NAME = "Mairie de Test-sur-Loire"


def borne(*args, check=True):
    """Run the installed `borne` command; fail the test if it fails and `check`."""
    out = subprocess.run([BORNE, *args], capture_output=True, text=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError("borne %s failed: %s" % (" ".join(args), out.stderr))
    return out


def api_headers(db, scope="read"):
    """The header of a new API token on the database `db` (as `borne token add`)."""
    conn = connect(db)
    try:
        return {"Authorization": "Bearer " + tokens.add_token(conn, scope)[1]}
    finally:
        conn.close()


def api_get(url, headers, timeout=10):
    """GET a JSON API address with these headers: (status, body)."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def make_registry(db, kiosks=2, site="mairie-centre", buttons=4, **columns):
    """Create a site with `kiosks` kiosks; return {device_id: secret}.
    columns: settings of the site's row to set, e.g. lockout_s=0, sync_s=2."""
    conn = connect(db)
    if not conn.execute("SELECT 1 FROM sites WHERE id = ?", (site,)).fetchone():
        registry.add_site(conn, site, "Mairie", buttons=buttons)
    out = {}
    for _ in range(kiosks):
        dev, secret = registry.add_kiosk(conn, site)
        out[dev] = secret
    if columns:
        with conn:
            conn.execute("UPDATE sites SET %s WHERE id = ?"
                         % ", ".join("%s = ?" % c for c in columns), (*columns.values(), site))
    conn.close()
    return out


def secured_server(db):
    """A secured Mosquitto and a server that ingests from it: (broker, server)."""
    broker = secured_mosquitto(db)
    server = Server(db, "--http", "127.0.0.1:0", "--mqtt",
                    "mqtt://127.0.0.1:%d" % broker.port).start()
    return broker, server


def secured_mosquitto(db):
    """A real Mosquitto running the output of `borne broker-config` (written
    into the broker's own directory, which user mosquitto can traverse)."""
    broker = realparts.Mosquitto(conf="")
    write_broker_config(db, broker)
    return broker.start()


def write_broker_config(db, broker, **options):
    """The drop-in of `borne broker-config` as the broker's configuration
    (its listener on the broker's port); options: those of mosquitto.write."""
    conn = connect(db)
    conf = broker_config.write(conn, os.path.join(broker.dir, "conf.d"), workers=2,
                               listener="127.0.0.1:%d" % broker.port, **options)
    conn.close()
    with open(conf) as f:
        broker.conf = f.read()
    broker.own_listener = False
    return conf


def server_secret(db):
    conn = connect(db)
    try:
        return registry.server_secret(conn)
    finally:
        conn.close()


class Server:
    """`borne serve` in a subprocess; waits for its ready line. `launcher`:
    the command to run instead of `borne` (a test seam, see
    tests/server/ingest/hold_commit.py)."""

    def __init__(self, db, *args, env=None, log_path=None, launcher=None):
        self.db = db
        self.args = args
        self.launcher = list(launcher or [BORNE])
        self.env = dict(os.environ, **(env or {}))
        if launcher:  # `python -m tests...` finds the tests from anywhere
            self.env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [realparts.ROOT, self.env.get("PYTHONPATH")]))
        self.log_path = log_path or str(db) + ".server.log"
        self.proc = None
        self.ready_line = None

    def start(self, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*self.launcher, "serve", "--db", str(self.db), *self.args],
            stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        lines = queue.Queue()

        def pump():
            for raw in self.proc.stdout:
                lines.put(raw.decode())
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self._lines = lines
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError("borne serve not ready; log: %s" % self.log_path) from None
            if line is None:
                raise RuntimeError("borne serve exited with %s; log: %s"
                                   % (self.proc.wait(5), self.log_path))
            if line.startswith("borne: serving"):
                self.ready_line = line.strip()
                return self

    def rest_of_stdout(self, timeout=10):
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            out.append(line)
        return "".join(out)

    def url(self, scheme):
        for part in self.ready_line.split():
            if part.startswith(scheme + "://"):
                return part
        return None

    @property
    def base(self):
        """http://host:port of the pages, from the ready line."""
        return self.url("http").rstrip("/")

    @property
    def port(self):
        return urlsplit(self.base).port

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def terminate(self, timeout=30):
        self.proc.terminate()
        return self.proc.wait(timeout)

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()


class Kiosk:
    """A kiosk's sync loop in Python: votes stay in `pending` until an ack
    names them; batches are resent until acked, across reconnects. It speaks
    protocol version 1 (campaign None), or version 2 with every batch of
    `campaign` (0: satisfaction, N: answers to consultation N)."""

    def __init__(self, port, dev, secret, boot=1, batch=50, resend_s=1.0, campaign=None):
        self.dev, self.boot, self.batch, self.resend_s = dev, boot, batch, resend_s
        self.campaign = campaign
        self.pending = {}  # seq -> (seq, t, level, scale, flags)
        self.acks = []
        self.next_seq = 1
        self.lock = threading.Condition()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev,
                                  clean_session=True)
        self.client.username_pw_set(dev, secret)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.will_set(w.topic(dev, "status"), w.encode_json({"state": "offline"}),
                             qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.connect_async("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props=None):
        if rc == 0:
            client.subscribe(w.topic(self.dev, "ack"), qos=1)
            self.connected.set()

    def _on_message(self, client, userdata, msg):
        if msg.topic.endswith("/ack"):
            dev, hi = w.decode_ack(msg.payload)
            with self.lock:
                self.acks.append(hi)
                for s in [s for s in self.pending if s <= hi]:
                    del self.pending[s]
                self.lock.notify_all()

    def press(self, n, t0=T0, flags=0):
        with self.lock:
            for i in range(n):
                seq = self.next_seq
                self.next_seq += 1
                self.pending[seq] = (seq, t0 + seq * 1000, (seq * 7 + i) % 4, 4, flags)

    def publish_raw(self, name, payload, qos=1, retain=False):
        return self.client.publish(w.topic(self.dev, name), payload, qos=qos, retain=retain)

    def sync(self, timeout=60, anchor=None):
        """Send batches until every pending vote is acked; True if done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                todo = sorted(self.pending)[:self.batch]
                if not todo:
                    return True
                votes = [self.pending[s] for s in todo]
            if self.connected.wait(max(0.0, deadline - time.monotonic())):
                self.client.publish(w.topic(self.dev, "votes"),
                                    w.encode_batch(self.dev, self.boot, votes, anchor,
                                                   self.campaign), qos=1)
            last = todo[-1]
            with self.lock:
                self.lock.wait_for(lambda: last not in self.pending,  # noqa: B023
                                   timeout=min(self.resend_s, max(0.0,
                                                                  deadline - time.monotonic())))
        return not self.pending

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def stored(db, dev=None):
    conn = connect(db)
    try:
        sql = "SELECT device_id, seq FROM votes"
        args = ()
        if dev:
            sql += " WHERE device_id = ?"
            args = (dev,)
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def consultation_rows(db, cid, sites, kiosk_answers=3, opens_ms=None, closes_ms=None,
                     state="open"):
    """A consultation as plain rows: id `cid` (its campaign number on the
    wire), running at `sites` from opens_ms (default: an hour ago) to
    closes_ms (default: in a day), `kiosk_answers` answers on the kiosk card."""
    now = int(time.time() * 1000)
    opens_ms = now - 3_600_000 if opens_ms is None else opens_ms
    closes_ms = now + 86_400_000 if closes_ms is None else closes_ms
    answers = json.dumps([{"fr": "Réponse %d" % i, "en": "Answer %d" % i}
                          for i in range(max(kiosk_answers, 2))])
    conn = connect(db)
    with conn:
        conn.execute(
            "INSERT INTO consultations (id, token, title_fr, title_en, question_fr, question_en,"
            " answers, kiosk_answers, opens_ms, closes_ms, state, created_ms, updated_ms)"
            " VALUES (?, ?, 'Projet', 'Project', 'Pour ?', 'For?', ?, ?, ?, ?, ?, ?, ?)",
            (cid, "tok%d" % cid, answers, kiosk_answers, opens_ms, closes_ms, state, now, now))
        conn.executemany("INSERT INTO consultation_sites (consultation_id, site_id) VALUES (?, ?)",
                         [(cid, site) for site in sites])
    conn.close()


def stored_answers(db, dev=None):
    """[(device_id, seq, consultation_id, answer)] of kiosk answers, by seq."""
    conn = connect(db)
    try:
        sql = ("SELECT device_id, seq, consultation_id, answer FROM consultation_answers"
               " WHERE channel = 'kiosk'")
        args = ()
        if dev:
            sql += " AND device_id = ?"
            args = (dev,)
        return conn.execute(sql + " ORDER BY device_id, seq", args).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def qr_site_server(tmp_path_factory):
    """A module's `qr_server`, stopped after its last test."""
    srv = qr_server(tmp_path_factory.mktemp("qr"))
    yield srv
    srv.stop()


def qr_server(workdir):
    """`borne serve` over a fresh database holding SITE and its QR token
    (`server.token`), on a free port, with an embedded broker."""
    db = os.path.join(str(workdir), "borne.db")
    borne("site", "add", SITE, "--name", SITE_NAME, "--buttons", "4", "--db", db)
    port = realparts.free_port()
    base = "http://127.0.0.1:%d" % port
    url = borne("qr", SITE, "--base-url", base, "--db", db).stdout.split()[-1]
    server = Server(db, "--http", "127.0.0.1:%d" % port, "--broker-port", "0",
                    log_path=os.path.join(str(workdir), "serve.log"))
    server.token = url.rsplit("/", 1)[1]
    return server.start(timeout=30)


SITE2 = "mediatheque-test"
CONSULTATION_ANSWERS = ("Oui|Yes", "Non|No", "Sans avis|No opinion")


def consultation_cli(db, *args):
    """`borne consultation --db DB ARGS` in this process (no start-up
    cost); its output, or AssertionError if it fails."""
    import contextlib
    import io

    from sync_server.commands.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["consultation", "--db", db, *args])
    assert code == 0, (args, out.getvalue())
    return out.getvalue()


def add_consultation(db, *sites, ideas=True, open_it=True, days_left=30, **options):
    """A consultation through `borne consultation add` on `sites`, opened
    two days ago (Paris time) and open for `days_left` days; returns (id,
    token). `options`: more flags, e.g. live_results=True."""
    import datetime

    def paris(days):
        return (datetime.datetime.now() + datetime.timedelta(days=days)).strftime(
            "%Y-%m-%d %H:%M")
    args = ["add", "--title-fr", "Parc des Tilleuls",
            "--title-en", "Tilleuls park", "--question-fr", "Faut-il ouvrir le parc le soir ?",
            "--question-en", "Should the park open in the evening?",
            "--kiosk-answers", "2", "--opens", paris(-2), "--closes", paris(days_left)]
    for a in CONSULTATION_ANSWERS:
        args += ["--answer", a]
    for s in sites:
        args += ["--site", s]
    if ideas:
        args.append("--ideas")
    for flag, on in options.items():
        if on:
            args.append("--" + flag.replace("_", "-"))
    out = consultation_cli(db, *args)
    cid = int(re.search(r"consultation (\d+) added", out).group(1))
    token = re.search(r"/c/(\S+)", out).group(1)
    if open_it:
        consultation_cli(db, "open", str(cid))
    return cid, token


@pytest.fixture(scope="module")
def consultation_server(tmp_path_factory):
    """A module's `qr_server` with a second site and a running consultation
    on both sites, ideas collected (`server.cid`, `server.ctoken`)."""
    workdir = tmp_path_factory.mktemp("consultation")
    srv = qr_server(workdir)
    conn = connect(srv.db)
    try:
        registry.add_site(conn, SITE2, "Médiathèque")
    finally:
        conn.close()
    srv.cid, srv.ctoken = add_consultation(srv.db, SITE, SITE2)
    yield srv
    srv.stop()


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

    def csrf(self, lang=None, path=None):
        """The first form's CSRF field on the QR form (or the page at `path`)."""
        page = self.get(path or self.form_path(lang))
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
