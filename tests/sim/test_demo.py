"""`borne demo` end to end: it starts the embedded broker, the server, the
sample sites with history, QR answers, a mystery campaign and firmware
kiosks; it serves the agents' screen; Ctrl-C stops it all, leaving no
process behind."""
import json
import os
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request

from simulator.driver import BORNE
from simulator.procs import spawn
from tests import realparts
from tests.realparts import wait_until


def leftovers(marker):
    """Processes whose command line or environment mentions `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if marker.encode() in cmd or marker.encode() in env:
            found.append((pid, cmd.replace(b"\0", b" ").decode(errors="replace")))
    return found


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()




def test_demo_starts_serves_the_screen_and_stops_cleanly(tmp_path):
    realparts.need_binary("micropython")
    demo_dir = str(tmp_path / "demo")
    proc = spawn([BORNE, "demo", "--dir", demo_dir, "--http", "127.0.0.1:0", "--days", "2",
                  "--seed", "3"], cwd=str(tmp_path), stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT)
    lines = []
    ready = threading.Event()

    def pump():
        for raw in proc.stdout:
            lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            if lines[-1].startswith("Ctrl-C"):
                ready.set()
        ready.set()
    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(120) and proc.poll() is None, "\n".join(lines)
        out = "\n".join(lines)
        assert re.search(r"borne demo: \d+ QR answers", out), out
        assert re.search(r"mystery campaign of \d+ tests imported", out), out
        assert "/f/" in out  # the QR form's address
        assert re.search(r"internal poll answered by \d+ agents", out), out
        assert "/team/mairie-centre?key=" in out  # the agents' team page
        screen = re.search(r"(http://\S+)/screen/mairie-centre\?key=\S+", out)
        assert screen, out
        base = screen.group(1)
        status, page = get(screen.group(0))
        assert status == 200 and "Mairie centrale" in page
        status, page = get(base + "/manager")
        assert status == 200 and "<form" in page  # the login form
        # The consultation, answered by phones, its published ideas and live results.
        assert re.search(r"borne demo: consultation \d+ with \d+ phone answers", out), out
        phone_page = re.search(r"(http://\S+/c/[\w-]+)  \(", out).group(1)
        status, page = get(phone_page)
        assert status == 200 and "Faut-il ouvrir le parc" in page and "Des bancs" in page
        assert "06 12 34" not in page  # that idea waits for moderation
        status, page = get(phone_page + "/resultats.json")
        counted = next(r["counted"] for r in json.loads(page)["results"]
                       if r["site_id"] == "" and r["channel"] == "phone")
        assert status == 200 and counted >= 3  # at least today's, sent through the page
        # The history came through MQTT and the ingest, like any kiosk's votes.
        bearer = {"Authorization": re.search(r"\(Authorization: (Bearer \S+)\)", out).group(1)}
        assert get(base + "/api/v1/kiosks")[0] == 401  # the API needs the token
        _, body = get(base + "/api/v1/sites/mairie-centre/votes?limit=5", bearer)
        assert json.loads(body)["votes"], "no replayed votes"

        # The kiosks running the real firmware come online.
        def firmware_online():
            kiosks = json.loads(get(base + "/api/v1/kiosks", bearer)[1])["kiosks"]
            return all(k["online"] for k in kiosks if k["id"].endswith("-2"))
        assert wait_until(firmware_online), "firmware kiosks not online"
        assert leftovers(demo_dir), "the demo's processes are not where this test looks"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert status == 0, "\n".join(lines)
    assert lines[-1].startswith("borne demo: stopped")
    assert wait_until(lambda: not leftovers(demo_dir), 10), leftovers(demo_dir)


def test_demo_traffic_follows_opening_hours_and_peaks_at_midday():
    import datetime
    import random
    import zoneinfo

    from simulator import demo_sites, traffic

    site = demo_sites.SITES[0]
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    rng = random.Random(11)
    monday = datetime.date(2026, 11, 16)
    by_hour = {}
    total = 0
    for week in range(8):
        day = monday + datetime.timedelta(weeks=week)
        votes = traffic.day_votes(site["hours"], "Europe/Paris", day, site["per_day"],
                                  site["buttons"], site["mood"], rng)
        total += len(votes)
        for utc_ms, level in votes:
            local = datetime.datetime.fromtimestamp(utc_ms / 1000, tz)
            minute = local.hour * 60 + local.minute
            assert local.date() == day and 0 <= level < site["buttons"]
            assert any(a <= minute < b for a, b in site["hours"]["0"]), local
            by_hour.setdefault(local.hour, []).append(level)
    assert 0.7 * 8 * site["per_day"] < total < 1.3 * 8 * site["per_day"]
    # Busiest late morning; the desk opens quietly.
    assert len(by_hour[11]) > 2 * len(by_hour[8])
    assert len(by_hour[11]) > len(by_hour[15]) > len(by_hour[17])
    # Sunday: closed.
    sunday = monday + datetime.timedelta(days=6)
    assert traffic.day_votes(site["hours"], "Europe/Paris", sunday, 100, 4, 0.0, rng) == []
    closed = datetime.datetime(2026, 11, 16, 12, 30, tzinfo=tz)  # lunch break
    assert traffic.rate_now(site["hours"], "Europe/Paris", 100, closed) == (0.0, 0.0)


def test_busy_desks_get_more_unhappy_votes():
    from simulator import traffic

    calm = traffic.level_weights(4, busy=0.0)
    busy = traffic.level_weights(4, busy=1.0)
    share = [w[0] / sum(w) for w in (calm, busy)]
    assert share[1] > 1.3 * share[0]
    assert traffic.level_weights(4, 0.0, mood=1.0)[3] > calm[3]
