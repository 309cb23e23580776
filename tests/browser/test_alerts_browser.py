"""Alerts end to end: a kiosk publishes unhappy votes to a real Mosquitto,
the real `borne serve` ingests them and raises a spike alert, which reaches
a real SMTP server (aiosmtpd, in this process) and a webhook receiver that
checks its HMAC; the agents' screen shows a banner, a manager acknowledges
the alert in Chromium, and happy votes end it."""
import json
import time

import pytest

from tests import realparts
from tests.browser.support import chromium, serious
from tests.browser.test_screen_browser import Kiosk, borne
from tests.server.alerts.support import Receiver, Smtp
from tests.server_support import Server, make_registry, secured_mosquitto

SITE = "mairie-alertes"
SECRET = "the webhook secret of the tests"
PASSWORD = "un mot de passe long"


def wait_for(cond, timeout=20):
    return realparts.wait_until(cond, timeout, every=0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    realparts.need_binary("mosquitto")
    tmp = tmp_path_factory.mktemp("alerts")
    db = str(tmp / "borne.db")
    kiosks = make_registry(db, kiosks=1, site=SITE)
    link = json.loads(borne("screen", "link", "add", SITE, "--json", "--base-url",
                            "http://127.0.0.1", "--db", db))
    borne("manager", "add", "qualite", "--password-stdin", "--db", db, stdin=PASSWORD + "\n")
    with Smtp() as smtp, Receiver(SECRET, fail_first=1) as hook:
        borne("alerts", "rules", "set", "*", "notify", "email=qualite@ville.example",
              "webhook=" + hook.url, "--db", db)
        config = tmp / "serve.toml"
        config.write_text('smtp_host = "127.0.0.1"\nsmtp_port = %d\nsmtp_tls = "none"\n'
                          'smtp_from = "alertes@ville.example"\nalert_every_s = 1\n'
                          'alert_retry_s = 1\n' % smtp.port)
        broker = secured_mosquitto(db)
        port = realparts.free_port()
        srv = Server(db, "--config", str(config), "--mqtt", broker.url, "--http",
                     "127.0.0.1:%d" % port, env={"BORNE_WEBHOOK_SECRET": SECRET}).start()
        (dev, secret), = kiosks.items()
        kiosk = Kiosk(broker.port, dev, secret)
        try:
            with chromium() as browser:
                yield {"db": db, "base": "http://127.0.0.1:%d" % port, "link": link,
                       "smtp": smtp, "hook": hook, "kiosk": kiosk, "browser": browser,
                       "config": str(config)}
        finally:
            kiosk.close()
            assert srv.terminate() == 0
            broker.stop()


def test_a_spike_through_real_ingest_reaches_mail_webhook_screen_and_manager(stack):
    smtp, hook = stack["smtp"], stack["hook"]
    stack["kiosk"].send(1, [0, 0, 1, 3])  # 3 unhappy of 4, acked after the commit
    assert wait_for(lambda: smtp.messages and hook.verified), "no alert message"
    [mail] = smtp.messages
    assert mail["to"] == ["qualite@ville.example"]
    assert "pic d'insatisfaction" in mail["msg"]["Subject"]
    [body] = hook.verified
    assert body["event"] == "opened" and body["alert"]["site_id"] == SITE
    assert body["alert"]["detail"]["unhappy"] == 3 and hook.bad == 0
    assert [s for _, s in hook.posts] == [503, 200]  # retried once
    # More unhappy votes: the same alert, no second message.
    stack["kiosk"].send(5, [0, 1])
    time.sleep(3)
    assert len(smtp.messages) == 1 and len(hook.verified) == 1
    listed = borne("alerts", "list", "--json", "--db", stack["db"])
    [alert] = json.loads(listed)
    assert alert["kind"] == "spike" and alert["state"] == "open"
    assert alert["detail"]["responses"] == 6

    page = stack["browser"].new_page(viewport={"width": 1440, "height": 900})
    page.goto(stack["base"] + "/screen/%s?key=%s" % (SITE, stack["link"]["key"]))
    banner = page.locator(".alert-banner")
    assert "pic d'insatisfaction" in banner.inner_text()
    assert serious(page) == []

    manager = stack["browser"].new_page(viewport={"width": 1440, "height": 900})
    manager.goto(stack["base"] + "/manager/alerts")
    manager.get_by_label("Identifiant").fill("qualite")
    manager.get_by_label("Mot de passe").fill(PASSWORD)
    manager.get_by_role("button", name="Se connecter").click()
    manager.wait_for_url("**/manager/alerts")
    row = manager.locator("tr[data-alert]")
    assert "pic d'insatisfaction" in row.inner_text() and row.get_attribute("data-state") == "open"
    assert serious(manager) == []
    manager.get_by_role("button", name="Prendre en compte").click()
    manager.wait_for_url("**/manager/alerts?lang=fr")
    assert row.get_attribute("data-state") == "acknowledged"
    assert "prise en compte (qualite)" in row.inner_text()
    # The open screen says so without a reload.
    banner.filter(has_text="prise en compte").wait_for(timeout=5000)

    # Happy votes end the alert: the banner goes, the end is told.
    stack["kiosk"].send(7, [3] * 10)
    banner.wait_for(state="detached", timeout=10000)
    assert wait_for(lambda: len(smtp.messages) == 2 and len(hook.verified) == 2)
    assert hook.verified[1]["event"] == "resolved"
    assert "Fin d'alerte" in smtp.messages[1]["msg"]["Subject"]
    manager.reload()
    assert manager.locator("[data-alerts='0']").count() == 1
    page.close()
    manager.close()


def test_a_forged_acknowledge_is_refused(stack):
    # Logged in, but without the form's field: refused with a message.
    page = stack["browser"].new_page()
    page.goto(stack["base"] + "/manager/alerts")
    page.get_by_label("Identifiant").fill("qualite")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/manager/alerts")
    resp = page.request.post(stack["base"] + "/manager/alerts/1/ack", form={"csrf": "1.x"})
    assert resp.status == 403 and "formulaire a expiré" in resp.text()
    page.close()


def test_alerts_test_command_sends_through_the_settings(stack):
    out = borne("alerts", "test", "--email", "essai@ville.example", "--config", stack["config"],
                "--db", stack["db"])
    assert "email essai@ville.example: sent" in out
    assert wait_for(lambda: any(m["to"] == ["essai@ville.example"]
                                for m in stack["smtp"].messages))
    mail = [m for m in stack["smtp"].messages if m["to"] == ["essai@ville.example"]][0]
    assert "Essai" in mail["msg"]["Subject"]
