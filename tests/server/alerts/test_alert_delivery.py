"""Alert messages through real servers in the test process: e-mails read
from aiosmtpd, webhooks whose HMAC the receiving aiohttp server checks, and
which it refuses a few times first (backoff)."""
import asyncio
import time

from sync_server.alerts import delivery, service
from sync_server.storage import alerts as store
from tests.server.alerts.support import Fleet, Receiver, Smtp

SECRET = "s3cret-for-tests"


def run_service(db, smtp, settings=None, until=None, timeout=30):
    """Run the alert service's steps (evaluate, deliver) until `until()`."""
    async def main():
        svc = service.Service(db, dict({"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                                        "smtp_tls": "none", "smtp_from": "alertes@borne.example",
                                        "alert_retry_s": 0.2}, **(settings or {})))
        await svc._db(svc._open)
        deadline = time.monotonic() + timeout
        try:
            while True:
                await svc.step()
                if until is None or until() or time.monotonic() > deadline:
                    return svc.stats
                await asyncio.sleep(0.05)
        finally:
            await svc._db(svc._conn.close)
    return asyncio.run(main())


def test_spike_mail_and_signed_webhook_retried_with_backoff(tmp_path, monkeypatch):
    monkeypatch.setenv("BORNE_WEBHOOK_SECRET", SECRET)
    f = Fleet(tmp_path / "d.db")
    try:
        with Smtp() as smtp, Receiver(SECRET, fail_first=3) as hook:
            store.set_rule(f.conn, "*", "notify", {"email": ["qualite@ville.example"],
                                                   "webhook": [hook.url]})
            f.votes([0, 0, 1, 3])
            stats = run_service(f.db, smtp, until=lambda: hook.verified and smtp.messages)
            [mail] = smtp.messages
            assert mail["to"] == ["qualite@ville.example"]
            assert mail["from"] == "alertes@borne.example"
            assert "pic d'insatisfaction" in mail["msg"]["Subject"]
            assert "Mairie des Alertes" in mail["msg"]["Subject"]
            text = mail["msg"].get_content()
            assert "dissatisfaction spike" in text and '"share": 0.75' in text
            [body] = hook.verified
            assert body["event"] == "opened" and body["alert"]["kind"] == "spike"
            assert body["alert"]["site_id"] == f.site and body["alert"]["detail"]["unhappy"] == 3
            assert hook.bad == 0 and [s for _, s in hook.posts] == [503, 503, 503, 200]
            gaps = [b[0] - a[0] for a, b in zip(hook.posts, hook.posts[1:])]
            assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8  # doubled each time
            assert stats["retries"] == 3 and stats["sent"] == 2
            [d_mail, d_hook] = store.list_deliveries(f.conn)
            assert (d_mail["state"], d_mail["attempts"]) == ("sent", 1)
            assert (d_hook["state"], d_hook["attempts"]) == ("sent", 4)
            # The condition ends: the end is told to both.
            f.votes([3] * 10)
            run_service(f.db, smtp, until=lambda: len(hook.verified) == 2
                        and len(smtp.messages) == 2)
            assert hook.verified[1]["event"] == "resolved"
            assert hook.verified[1]["alert"]["resolved_ms"] is not None
            assert "Fin d'alerte" in smtp.messages[1]["msg"]["Subject"]
    finally:
        f.close()


def test_a_wrong_secret_is_refused_by_the_receiver(tmp_path, monkeypatch):
    monkeypatch.setenv("BORNE_WEBHOOK_SECRET", "another secret")
    f = Fleet(tmp_path / "w.db")
    try:
        with Smtp() as smtp, Receiver(SECRET) as hook:
            store.set_rule(f.conn, "*", "notify", {"webhook": [hook.url]})
            f.votes([0] * 4)
            run_service(f.db, smtp, until=lambda: hook.bad >= 2)
            assert hook.verified == [] and hook.bad >= 2
            [d] = store.list_deliveries(f.conn)
            assert d["state"] == "pending" and "answered 401" in d["last_error"]
    finally:
        f.close()


def test_acknowledged_before_sending_and_messages_for_good_failure(tmp_path, monkeypatch):
    f = Fleet(tmp_path / "k.db")
    try:
        with Smtp() as smtp:
            store.set_rule(f.conn, "*", "notify", {"email": ["a@ville.example"]})
            store.set_rule(f.conn, "*", "quiet", {"from": "00:00", "to": "23:59"})
            f.votes([0] * 4)
            run_service(f.db, smtp)
            [alert] = store.list_alerts(f.conn)
            assert store.acknowledge(f.conn, alert["id"], "qualite")
            assert not store.acknowledge(f.conn, alert["id"], "qualite")  # once
            f.conn.execute("UPDATE alert_deliveries SET next_ms = 0")  # quiet hours over
            run_service(f.db, smtp)
            assert smtp.messages == []
            assert [d["state"] for d in store.list_deliveries(f.conn)] == ["skipped"]
        # No SMTP server answers: pending with the reason, then failed after the last try.
        monkeypatch.setattr(service, "MAX_ATTEMPTS", 2)
        store.clear_rule(f.conn, "*", "quiet")
        f.telemetry(battery_pct=3)
        run_service(f.db, Smtp(), settings={"alert_retry_s": 0.05},
                    until=lambda: store.list_deliveries(f.conn)[-1]["state"] == "failed")
        last = store.list_deliveries(f.conn)[-1]
        assert last["state"] == "failed" and last["attempts"] == 2
        assert "SMTP 127.0.0.1" in last["last_error"]
    finally:
        f.close()


def test_signature_checks():
    body = b'{"event": "test"}'
    header = delivery.sign(SECRET, body, t=1_800_000_000)
    assert delivery.verify(SECRET, body, header, now=1_800_000_010)
    assert not delivery.verify(SECRET, body + b" ", header, now=1_800_000_010)
    assert not delivery.verify("other", body, header, now=1_800_000_010)
    assert not delivery.verify(SECRET, body, header, now=1_800_001_000)  # stale
    assert not delivery.verify(SECRET, body, "garbage")


def test_the_loop_evaluates_soon_after_a_commit_not_only_on_its_timer(tmp_path):
    f = Fleet(tmp_path / "l.db")
    try:
        async def main():
            changed = asyncio.Event()
            svc = service.Service(f.db, {"alert_every_s": 3600}, changed)
            task = asyncio.ensure_future(svc.run())
            try:
                while svc.stats["evaluations"] < 1:
                    await asyncio.sleep(0.05)
                await asyncio.to_thread(f.votes, [0] * 4)  # as ingest does, then:
                started = time.monotonic()
                changed.set()
                while not svc.stats["opened"]:
                    assert time.monotonic() - started < 10, "not evaluated after the commit"
                    await asyncio.sleep(0.05)
                return svc.stats
            finally:
                svc.stopping.set()
                await asyncio.wait_for(task, 10)
        stats = asyncio.run(main())
        # one full evaluation at the start, one quick one after the commit
        assert stats["evaluations"] == 1 and stats["quick"] == 1 and stats["opened"] == 1
    finally:
        f.close()
