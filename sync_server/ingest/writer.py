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
import logging
import os
from collections.abc import Iterator
from itertools import repeat

from protocol import ota_server_wire as ota_wire
from protocol import server_wire as w
from sync_server.storage import firmware_updates, kiosk_answers, registry, rollup, votes
from sync_server.storage.connection import connect, now_ms, savepoint, transaction

log = logging.getLogger("borne.ingest")

MIN_UTC_MS = 946684800000  # 2000-01-01: earlier times are unset clocks, never dates
MAX_UTC_MS = 4102444800000  # 2100-01-01: later times are broken clocks, never dates
# Telemetry history and refused-message records older than this are
# deleted (10,000 kiosks reporting every 5 minutes make 2.9 M rows a day).
HISTORY_DAYS = 31

_TELEMETRY_FIELDS = ("boot", "fw", "battery_pct", "battery_mv", "rssi", "journal",
                     "suppressed", "dropped", "uptime_s", "clock")


class Refused(Exception):
    """A well-formed message the server does not accept (trust rules);
    `code` names the reason in counts (healthz, the refusal log)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def reason_code(e: Exception) -> str:
    """The short name a refusal is counted under."""
    if isinstance(e, Refused):
        return e.code
    return "malformed" if isinstance(e, w.WireError) else "internal_error"


class Outcome:
    """What a processed batch produced: acks to send after the commit, kiosks
    that came online (they get the time), counts."""

    def __init__(self):
        self.acks = []  # (topic, payload)
        self.replies = []  # (topic, payload): firmware chunks, sent with the acks
        self.stopped_rollouts = []  # (rollout id, reason) stopped by a failure report
        self.online = []  # device ids
        self.new_votes = 0
        self.duplicates = 0
        self.rejected = 0
        self.refused: dict[str, int] = {}  # reason code -> messages refused
        self.undatable = 0  # votes stored without a time they can be counted at
        self.answers = 0  # new kiosk answers to consultations (in new_votes too)
        self.unknown_campaign = 0  # of which to a campaign no consultation has


class _RollupFailed(Exception):
    pass


_DATED_KEYS = votes.DATED_KEYS


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

    def rollup_columns(self) -> Iterator[tuple]:
        """(site ids, utc_ms, levels, scales, flags) per group."""
        for g in self.groups:
            if isinstance(g, list):
                yield tuple([r[k] for r in g] for k in _DATED_KEYS[:5])
            else:
                yield (repeat(g[0]),) + g[3:]


class Ingest:
    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.conn = connect(db_path)
        self._images: dict[str, bytes] = {}  # release id -> image, read once

    def close(self) -> None:
        self.conn.close()

    def process(self, messages: list[tuple[str, bytes, bool]]) -> Outcome:
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
                dated = len(self._dated.groups)
                try:
                    with savepoint(c, "msg"):
                        self._one(topic, payload, retained, out)
                except Exception as e:  # even a bug must not stop ingest of the others
                    del self._dated.groups[dated:]
                    if isinstance(e, (w.WireError, Refused)):
                        reason = "%s: %s" % (type(e).__name__, e)
                    else:
                        log.exception("failed on a message on %s", topic)
                        reason = "internal error: %s" % type(e).__name__
                    self._reject(topic, payload, reason_code(e), reason, out)
            self._finish()
            self.before_commit(out)
        return out

    def before_commit(self, out: Outcome) -> None:
        """Runs inside the transaction, just before its commit. Nothing in
        production; the fault tests replace it to stop the server there."""

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
            votes.mark_acked(c, self._acked, now_ms())

    def prune(self, days: int = HISTORY_DAYS) -> int:
        """Delete telemetry and reject records older than `days`."""
        cutoff = now_ms() - days * 86_400_000
        with transaction(self.conn) as c:
            return votes.prune(c, cutoff)

    def _one(self, topic, payload, retained, out):
        parsed = w.parse_topic(topic)
        if not parsed:
            raise Refused("not_kiosk_topic", "not a kiosk topic")
        dev, kind = parsed
        if kind == "votes":
            self._votes(dev, payload, out)
        elif kind == "status":
            self._status(dev, payload, retained, out)
        elif kind == "telemetry":
            self._telemetry(dev, payload)
        elif kind == "fetch":
            self._fetch(dev, payload, out)
        elif kind == "update":
            self._update(dev, payload, out)
        else:
            raise Refused("not_ingested", "the server does not ingest %s messages" % kind)

    def _site(self, dev):
        site = self._sites.get(dev)
        if site is None:
            row = registry.kiosk_site(self.conn, dev)
            if not row:
                site = Refused("unknown_kiosk", "unknown kiosk %s" % dev)
            elif row[1] is not None:
                site = Refused("revoked_kiosk", "kiosk %s is revoked" % dev)
            else:
                site = row[0]
            self._sites[dev] = site
        if isinstance(site, Refused):
            raise site
        return site

    def _votes(self, dev, payload, out):
        b = w.decode_batch(payload)
        if b.device_id != dev:
            raise Refused("device_mismatch",
                          "topic names %s, payload names %s" % (dev, b.device_id))
        site = self._site(dev)
        c = self.conn
        # Column-wise, in C where possible: this runs for every vote.
        seqs, ts, levels, scales, flags = zip(*b.votes) if b.votes else ((),) * 5
        unknown = any(f & w.F_CLOCK_UNKNOWN for f in set(flags))
        anchor = None
        if b.anchor:
            anchor = self._anchor(dev, b.boot, b.anchor[0], b.anchor[1])
        elif unknown:
            anchor = votes.anchor_of(c, dev, b.boot)
        if not b.votes:
            votes.set_status(c, dev, last_seen_ms=now_ms())
            return
        if unknown:
            utcs = [t if not f & w.F_CLOCK_UNKNOWN else
                    anchor[1] + t - anchor[0] if anchor else None for t, f in zip(ts, flags)]
        else:
            utcs = ts
        undatable = False
        if unknown or min(ts) < MIN_UTC_MS or max(ts) >= MAX_UTC_MS:
            # A time outside 2000..2100 is a broken clock, never a date: the
            # vote is stored undated and never counted (PROTOCOL.md, "Votes
            # the server cannot date"); a vote without a clock waits for its
            # boot's anchor unless that anchor exists and cannot date it.
            kept = []
            for u, f in zip(utcs, flags):
                ok = u is not None and MIN_UTC_MS <= u < MAX_UTC_MS
                undatable |= not ok and (u is not None or not f & w.F_CLOCK_UNKNOWN)
                kept.append(u if ok else None)
            utcs = kept
        lo, hi = seqs[0], seqs[-1]
        # Inside this transaction nobody else writes: what is not there yet is new.
        # Campaign 0 is satisfaction (votes); N > 0 answers a consultation.
        store = kiosk_answers if b.campaign else votes
        have = store.stored_seqs(c, dev, lo, hi)
        rows = list(zip(repeat(dev), seqs, repeat(site), repeat(b.boot), ts, utcs, levels,
                        scales, flags, repeat(now_ms())))
        if have:
            rows = [r for r in rows if r[1] not in have]
        if rows:
            n = 0
            if undatable:  # flagged, and counted once: only new rows
                marked = []
                for r in rows:
                    if r[5] is None and (not r[8] & w.F_CLOCK_UNKNOWN or anchor is not None):
                        r = r[:8] + (r[8] | votes.F_UNDATABLE, r[9])
                        n += 1
                    marked.append(r)
                rows = marked
            if b.campaign:
                out.answers += len(rows)
                if not kiosk_answers.insert_answers(c, b.campaign, rows):
                    out.unknown_campaign += len(rows)
                    log.warning("kiosk %s: %d answers to unknown campaign %d kept apart",
                                dev, len(rows), b.campaign)
            else:
                votes.insert_votes(c, rows)
            if n:
                votes.count_undatable(c, dev, n)
                out.undatable += n
            if b.campaign:
                pass  # answers never count in satisfaction: no rollup
            elif have or None in utcs:
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
        if MIN_UTC_MS <= utc_ms < MAX_UTC_MS:
            dated = votes.add_anchor(c, dev, boot, boot_ms, utc_ms, MIN_UTC_MS, MAX_UTC_MS)
            if dated is not None:  # a new anchor: the boot's answers too
                kiosk_answers.date_boot(c, dev, boot, boot_ms, utc_ms, MIN_UTC_MS, MAX_UTC_MS)
            if dated:
                self._rollup(dated)
        return votes.anchor_of(c, dev, boot)

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
        votes.set_status(self.conn, dev, **fields)
        if m["state"] == "online":
            out.online.append(dev)

    def _fetch(self, dev, payload, out):
        """A kiosk asks for a piece of the release it is offered."""
        try:
            rid, off, n = ota_wire.decode_fetch(payload)
        except ota_wire.OtaError as e:
            raise Refused("bad_update_message", str(e)) from None
        self._site(dev)
        if not firmware_updates.may_fetch(self.conn, dev, rid):
            raise Refused("not_offered", "release %s is not offered to %s" % (rid, dev))
        image = self._images.get(rid)
        if image is None:
            image = self._images[rid] = firmware_updates.release_image(self.conn, rid) or b""
        if off >= len(image):
            raise Refused("bad_update_message", "offset %d past the image's %d bytes"
                          % (off, len(image)))
        out.replies.append((w.topic(dev, "chunk"),
                            ota_wire.encode_chunk(rid, off, image[off:off + n])))

    def _update(self, dev, payload, out):
        """A kiosk's firmware and update state (retained)."""
        try:
            m = ota_wire.decode_update(payload)
        except ota_wire.OtaError as e:
            raise Refused("bad_update_message", str(e)) from None
        self._site(dev)
        stopped = firmware_updates.record_update(self.conn, dev, m)
        for rollout, reason in stopped:
            log.warning("rollout %d stopped: %s", rollout, reason)
        out.stopped_rollouts += stopped

    def _telemetry(self, dev, payload):
        m = w.decode_telemetry(payload)
        self._site(dev)
        t = now_ms()
        votes.add_telemetry(self.conn, dev, t, m)
        fields = {"last_seen_ms": t}
        for k in _TELEMETRY_FIELDS:
            v = m.get(k)
            if isinstance(v, (int, str)) and not isinstance(v, bool):
                fields[k] = v[:32] if isinstance(v, str) else v
        votes.set_status(self.conn, dev, **fields)
        if m.get("anchor"):
            self._anchor(dev, *m["anchor"])

    def _reject(self, topic, payload, code, reason, out):
        """Record a refused message; `mqtt_link` logs the counts per interval."""
        out.rejected += 1
        out.refused[code] = out.refused.get(code, 0) + 1
        parsed = w.parse_topic(topic)
        dev = parsed[0] if parsed else None
        votes.add_reject(self.conn, dev, topic, now_ms(), reason, len(payload))
        log.debug("refused a message on %s: %s", topic[:200], reason)
