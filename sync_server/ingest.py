"""Ingest: MQTT messages from kiosks into SQLite, exactly once per vote.

`Ingest.process(messages)` stores a whole batch of messages in one
transaction and returns the acks to publish, which the caller sends only
after this returns (the commit is done). Each message runs in its own
savepoint: a refused or failing message is rolled back alone, counted and
logged, and never stops the others. The rollups get one call per
transaction, just before the commit; should that call fail, the batch is
redone calling them message by message, so only the guilty one is refused.
The class is synchronous and owns its sqlite3 connection; `mqtt_link` runs
it in one worker thread."""
import json
import logging
import os
import time
from itertools import chain, repeat

from borne_server import rollup
from borne_server.store import connect, now_ms, transaction
from protocol import server_wire as w

log = logging.getLogger("borne.ingest")

MIN_UTC_MS = 946684800000  # 2000-01-01: earlier times are unset clocks, never dates
LOG_EVERY_S = 10.0  # at most one reject line per kiosk in that time
# Telemetry history and refused-message records older than this are
# deleted (10,000 kiosks reporting every 5 minutes make 2.9 M rows a day).
HISTORY_DAYS = 31

_TELEMETRY_FIELDS = ("boot", "fw", "battery_pct", "battery_mv", "rssi", "journal",
                     "suppressed", "dropped", "uptime_s", "clock")


_INSERT_VOTES = ("INSERT INTO votes (device_id, seq, site_id, boot, t_ms, utc_ms, level, scale,"
                 " flags, received_ms) VALUES ")
_VOTE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROWS_PER_INSERT = 64  # at most 64 distinct statements, well within sqlite3's cache
_insert_sql = {}


def _insert_votes(c, rows):
    """Insert vote rows with multi-row VALUES statements: one step per up to
    64 rows, not one per row as executemany does. That is faster on its own
    and lets the GIL go (for the event loop) once per statement, not once
    per row."""
    for i in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[i:i + _ROWS_PER_INSERT]
        sql = _insert_sql.get(len(chunk))
        if sql is None:
            sql = _insert_sql[len(chunk)] = _INSERT_VOTES + ", ".join([_VOTE_ROW] * len(chunk))
        c.execute(sql, list(chain.from_iterable(chunk)))


class Refused(Exception):
    """A well-formed message the server does not accept (trust rules)."""


class Outcome:
    """What a processed batch produced: acks to send after the commit, kiosks
    that came online (they get the time), counts."""

    def __init__(self):
        self.acks = []  # (topic, payload)
        self.online = []  # device ids
        self.new_votes = 0
        self.duplicates = 0
        self.rejected = 0


class _RollupFailed(Exception):
    pass


_DATED_KEYS = ("site_id", "utc_ms", "level", "scale", "flags", "device_id", "seq")


class _Dated:
    """Dated new votes for the rollups, in groups: a list of dicts, or one
    message's votes as columns (site, device, seqs, utc_ms, levels, scales,
    flags). `rollup.apply_votes` reads the columns through `rollup_columns`,
    without a dict per vote; iterating yields one dict per vote, as any
    other caller of apply_votes passes them."""

    def __init__(self, groups=None):
        self.groups = groups or []

    def __bool__(self):
        return bool(self.groups)

    def __iter__(self):
        for g in self.groups:
            if isinstance(g, list):
                yield from g
            else:
                site, dev = g[0], g[1]
                for seq, utc, level, scale, flags in zip(*g[2:]):
                    yield dict(zip(_DATED_KEYS, (site, utc, level, scale, flags, dev, seq)))

    def rollup_columns(self):
        """(site ids, utc_ms, levels, scales, flags) per group."""
        for g in self.groups:
            if isinstance(g, list):
                yield tuple([r[k] for r in g] for k in _DATED_KEYS[:5])
            else:
                yield (repeat(g[0]),) + g[3:]


class Ingest:
    def __init__(self, db_path):
        self.conn = connect(db_path)
        self._last_log = {}  # device -> (monotonic time, suppressed count)
        # Fault injection for the kill -9 test: hold before this commit.
        self._hold = os.environ.get("BORNE_FAULT_HOLD_COMMIT")

    def close(self):
        self.conn.close()

    def process(self, messages):
        """messages: list of (topic, payload bytes, retained flag)."""
        try:
            return self._transaction(messages, coalesce=True)
        except _RollupFailed:
            # Redo the batch calling the rollups message by message, so that
            # only the message they fail on is refused.
            return self._transaction(messages, coalesce=False)

    def _transaction(self, messages, coalesce):
        out = Outcome()
        c = self.conn
        self._coalesce = coalesce
        self._dated = _Dated()  # dated new votes for the rollups, when coalescing
        self._acked = {}  # device -> highest seq acked in this transaction
        self._sites = {}  # device -> site id, or the Refused for it
        with transaction(c):
            for topic, payload, retained in messages:
                c.execute("SAVEPOINT msg")
                dated = len(self._dated.groups)
                try:
                    self._one(topic, payload, retained, out)
                    c.execute("RELEASE msg")
                except Exception as e:  # even a bug must not stop ingest of the others
                    c.execute("ROLLBACK TO msg")
                    c.execute("RELEASE msg")
                    del self._dated.groups[dated:]
                    if isinstance(e, (w.WireError, Refused)):
                        reason = "%s: %s" % (type(e).__name__, e)
                    else:
                        log.exception("failed on a message on %s", topic)
                        reason = "internal error: %s" % type(e).__name__
                    self._reject(topic, payload, reason, out)
            self._finish()
            if self._hold and out.acks:
                self._hold_before_commit()
        return out

    def _rollup(self, group):
        """group: a list of dicts, or columns (see _Dated)."""
        if self._coalesce:
            self._dated.groups.append(group)
        else:
            rollup.apply_votes(self.conn, _Dated([group]), source="kiosk")

    def _finish(self):
        """One rollup call and one health update per transaction: far
        cheaper than one per message."""
        c = self.conn
        if self._dated:
            try:
                rollup.apply_votes(c, self._dated, source="kiosk")
            except Exception:
                log.exception("rollups failed on a batch; retrying message by message")
                raise _RollupFailed() from None
        if self._acked:
            t = now_ms()
            c.executemany(
                "INSERT INTO kiosk_status (device_id, last_seen_ms, acked_seq) VALUES (?, ?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms,"
                " acked_seq = max(coalesce(acked_seq, 0), excluded.acked_seq)",
                [(dev, t, hi) for dev, hi in self._acked.items()])

    def prune(self, days=HISTORY_DAYS):
        """Delete telemetry and reject records older than `days`."""
        cutoff = now_ms() - days * 86_400_000
        with transaction(self.conn) as c:
            n = c.execute("DELETE FROM telemetry WHERE received_ms < ?", (cutoff,)).rowcount
            n += c.execute("DELETE FROM rejects WHERE received_ms < ?", (cutoff,)).rowcount
        return n

    def _hold_before_commit(self):
        """Create the file, then wait (at most 60 s) until someone deletes it:
        the fault tests kill or stop the server in that window."""
        path, self._hold = self._hold, None
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _one(self, topic, payload, retained, out):
        parsed = w.parse_topic(topic)
        if not parsed:
            raise Refused("not a kiosk topic")
        dev, kind = parsed
        if kind == "votes":
            self._votes(dev, payload, out)
        elif kind == "status":
            self._status(dev, payload, retained, out)
        elif kind == "telemetry":
            self._telemetry(dev, payload)
        else:
            raise Refused("the server does not ingest %s messages" % kind)

    def _site(self, dev):
        site = self._sites.get(dev)
        if site is None:
            row = self.conn.execute("SELECT site_id, revoked_ms FROM kiosks WHERE id = ?",
                                    (dev,)).fetchone()
            if not row:
                site = Refused("unknown kiosk %s" % dev)
            elif row[1] is not None:
                site = Refused("kiosk %s is revoked" % dev)
            else:
                site = row[0]
            self._sites[dev] = site
        if isinstance(site, Refused):
            raise site
        return site

    def _seen(self, dev, **fields):
        c = self.conn
        c.execute("INSERT OR IGNORE INTO kiosk_status (device_id) VALUES (?)", (dev,))
        sets = ", ".join("%s = ?" % k for k in fields)
        c.execute("UPDATE kiosk_status SET %s WHERE device_id = ?" % sets,
                  (*fields.values(), dev))

    def _votes(self, dev, payload, out):
        b = w.decode_batch(payload)
        if b.device_id != dev:
            raise Refused("topic names %s, payload names %s" % (dev, b.device_id))
        site = self._site(dev)
        c = self.conn
        # Column-wise, in C where possible: this runs for every vote.
        seqs, ts, levels, scales, flags = zip(*b.votes) if b.votes else ((),) * 5
        unknown = any(f & w.F_CLOCK_UNKNOWN for f in set(flags))
        anchor = None
        if b.anchor:
            anchor = self._anchor(dev, b.boot, b.anchor[0], b.anchor[1])
        elif unknown:
            anchor = c.execute("SELECT boot_ms, utc_ms FROM anchors WHERE device_id = ?"
                               " AND boot = ?", (dev, b.boot)).fetchone()
        if not b.votes:
            self._seen(dev, last_seen_ms=now_ms())
            return
        if unknown:
            utcs = [t if not f & w.F_CLOCK_UNKNOWN else
                    anchor[1] + t - anchor[0] if anchor else None for t, f in zip(ts, flags)]
        else:
            utcs = ts
        if unknown or min(ts) < MIN_UTC_MS:
            # An unset clock: keep the vote pending, never date it 1970.
            utcs = [u if u is not None and u >= MIN_UTC_MS else None for u in utcs]
        lo, hi = seqs[0], seqs[-1]
        # Inside this transaction nobody else writes: what is not there yet is new.
        have = {r[0] for r in c.execute(
            "SELECT seq FROM votes WHERE device_id = ? AND seq BETWEEN ? AND ?", (dev, lo, hi))}
        rows = list(zip(repeat(dev), seqs, repeat(site), repeat(b.boot), ts, utcs, levels,
                        scales, flags, repeat(now_ms())))
        if have:
            rows = [r for r in rows if r[1] not in have]
        if rows:
            _insert_votes(c, rows)
            if have or None in utcs:
                dated = [r[1:2] + r[5:9] for r in rows if r[5] is not None]
                if dated:
                    self._rollup((site, dev) + tuple(zip(*dated)))
            else:  # the usual case: every vote new and dated
                self._rollup((site, dev, seqs, utcs, levels, scales, flags))
        out.new_votes += len(rows)
        out.duplicates += len(b.votes) - len(rows)
        self._acked[dev] = max(hi, self._acked.get(dev, 0))
        out.acks.append((w.topic(dev, "ack"), w.encode_ack(dev, hi)))

    def _anchor(self, dev, boot, boot_ms, utc_ms):
        """Record the first anchor reported for (dev, boot), date that boot's
        pending votes with it, and return the anchor in force, or None."""
        c = self.conn
        if utc_ms >= MIN_UTC_MS:
            cur = c.execute("INSERT OR IGNORE INTO anchors (device_id, boot, boot_ms, utc_ms)"
                            " VALUES (?, ?, ?, ?)", (dev, boot, boot_ms, utc_ms))
            if cur.rowcount:
                dated = c.execute(
                    "UPDATE votes SET utc_ms = ? + t_ms - ? WHERE device_id = ? AND boot = ?"
                    " AND utc_ms IS NULL AND flags & 1 AND ? + t_ms - ? >= ?"
                    " RETURNING site_id, utc_ms, level, scale, flags, device_id, seq",
                    (utc_ms, boot_ms, dev, boot, utc_ms, boot_ms, MIN_UTC_MS)).fetchall()
                if dated:
                    keys = ("site_id", "utc_ms", "level", "scale", "flags", "device_id", "seq")
                    self._rollup([dict(zip(keys, r)) for r in dated])
        return c.execute("SELECT boot_ms, utc_ms FROM anchors WHERE device_id = ? AND boot = ?",
                         (dev, boot)).fetchone()

    def _status(self, dev, payload, retained, out):
        m = w.decode_status(payload)
        self._site(dev)
        fields = {"state": m["state"]}
        if not retained:  # a retained status replayed at our start says nothing of now
            fields["last_seen_ms"] = now_ms()
        if isinstance(m.get("boot"), int):
            fields["boot"] = m["boot"]
        if isinstance(m.get("fw"), str):
            fields["fw"] = m["fw"][:32]
        self._seen(dev, **fields)
        if m["state"] == "online":
            out.online.append(dev)

    def _telemetry(self, dev, payload):
        m = w.decode_telemetry(payload)
        self._site(dev)
        t = now_ms()
        self.conn.execute("INSERT INTO telemetry (device_id, received_ms, payload)"
                          " VALUES (?, ?, ?)", (dev, t, json.dumps(m)))
        fields = {"last_seen_ms": t}
        for k in _TELEMETRY_FIELDS:
            v = m.get(k)
            if isinstance(v, (int, str)) and not isinstance(v, bool):
                fields[k] = v[:32] if isinstance(v, str) else v
        self._seen(dev, **fields)
        if m.get("anchor"):
            self._anchor(dev, *m["anchor"])

    def _reject(self, topic, payload, reason, out):
        out.rejected += 1
        parsed = w.parse_topic(topic)
        dev = parsed[0] if parsed else None
        c = self.conn
        c.execute("INSERT INTO rejects (device_id, topic, received_ms, reason, size)"
                  " VALUES (?, ?, ?, ?, ?)", (dev, topic[:200], now_ms(), reason, len(payload)))
        if dev and c.execute("SELECT 1 FROM kiosks WHERE id = ?", (dev,)).fetchone():
            self._seen(dev, last_reject=reason)
            c.execute("UPDATE kiosk_status SET rejected = rejected + 1 WHERE device_id = ?",
                      (dev,))
        key = dev or "?"
        last, quiet = self._last_log.get(key, (0.0, 0))
        now = time.monotonic()
        if now - last >= LOG_EVERY_S:
            more = " (and %d more since the last line)" % quiet if quiet else ""
            log.warning("refused a message on %s: %s%s", topic[:200], reason, more)
            self._last_log[key] = (now, 0)
        else:
            self._last_log[key] = (last, quiet + 1)
