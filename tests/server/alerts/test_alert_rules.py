"""Alert rules evaluated on a real SQLite database fed through the real
ingest: spike, offline during opening hours vs outside, silent kiosk, kiosk
health, a day far under its weekday's usual level; dedup, auto-resolve,
scopes, quiet hours."""
import datetime
import json
import zoneinfo

import pytest

from sync_server.alerts import evaluate, rules
from sync_server.storage import alerts as store
from sync_server.storage.rollup import local_bucket
from tests.server.alerts.support import Fleet, now_ms
from tests.server_support import consultation_rows

MIN = 60_000
HOUR = 3_600_000


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path / "a.db")
    yield f
    f.close()


def live(f, kind=None):
    return [a for a in store.list_alerts(f.conn, live_only=True) if kind in (None, a["kind"])]


def test_spike_opens_once_updates_and_resolves_itself(fleet):
    fleet.votes([0, 1, 0, 3])  # 3 unhappy of 4
    out = evaluate.evaluate(fleet.conn, now_ms())
    [alert] = live(fleet)
    assert out.opened == [alert["id"]] and alert["kind"] == "spike"
    assert alert["device_id"] == "" and alert["state"] == "open"
    assert alert["detail"] == {"responses": 4, "unhappy": 3, "share": 0.75, "window_min": 15}
    fleet.votes([0, 0])
    out = evaluate.evaluate(fleet.conn, now_ms())  # still true: the same alert, new figures
    assert out.opened == [] and out.resolved == []
    [again] = live(fleet)
    assert again["id"] == alert["id"] and again["detail"]["responses"] == 6
    fleet.votes([3] * 8)  # 5 unhappy of 14: under half
    out = evaluate.evaluate(fleet.conn, now_ms())
    assert out.resolved == [alert["id"]] and live(fleet) == []
    assert store.get_alert(fleet.conn, alert["id"])["state"] == "resolved"
    # A new spike later is a new alert.
    fleet.votes([0] * 20)
    out = evaluate.evaluate(fleet.conn, now_ms())
    assert len(out.opened) == 1 and out.opened[0] != alert["id"]


def test_spike_counts_only_counted_votes_in_the_window(fleet):
    fleet.votes([0, 0, 0])  # three: under the 4 responses needed
    fleet.votes([0] * 10, flags=4)  # burst suspects: filtered, not counted
    fleet.votes([0] * 10, at_ms=now_ms() - 40 * MIN)  # before the 15 minutes
    assert evaluate.evaluate(fleet.conn, now_ms()).opened == []
    fleet.votes([1])
    assert len(evaluate.evaluate(fleet.conn, now_ms()).opened) == 1


def test_scopes_override_defaults_and_turn_rules_off(fleet):
    fleet.votes([0, 0, 0, 0])
    store.set_rule(fleet.conn, "*", "spike", {"min_responses": 10})
    assert evaluate.evaluate(fleet.conn, now_ms()).opened == []
    store.set_rule(fleet.conn, "site:" + fleet.site, "spike", {"min_responses": 4})
    assert len(evaluate.evaluate(fleet.conn, now_ms()).opened) == 1
    store.set_rule(fleet.conn, "site:" + fleet.site, "spike", {"enabled": False})
    assert len(evaluate.evaluate(fleet.conn, now_ms()).resolved) == 1
    # The site's settings merge: min_responses stays 4 there.
    assert rules.resolve(store.list_rules(fleet.conn), fleet.site, None)["spike"] == dict(
        rules.DEFAULTS["spike"], min_responses=4, enabled=False)


def test_organisation_scope(fleet):
    fleet.conn.execute("INSERT INTO organisations (id, name) VALUES (7, 'Ville')")
    fleet.conn.execute("UPDATE sites SET org_id = 7")
    stored = [{"scope": "*", "kind": "battery", "params": {"under_pct": 30}},
              {"scope": "org:7", "kind": "battery", "params": {"under_pct": 40}},
              {"scope": "org:8", "kind": "battery", "params": {"under_pct": 50}}]
    assert rules.resolve(stored, fleet.site, 7)["battery"]["under_pct"] == 40
    assert rules.resolve(stored, fleet.site, None)["battery"]["under_pct"] == 30
    store.set_rule(fleet.conn, "org:7", "battery", {"under_pct": 40})
    fleet.telemetry(battery_pct=35)
    evaluate.evaluate(fleet.conn, now_ms())
    [alert] = live(fleet)
    assert alert["kind"] == "battery" and alert["device_id"] == fleet.devices[0]
    store.set_rule(fleet.conn, "site:" + fleet.site, "battery", {"under_pct": 20})
    assert evaluate.evaluate(fleet.conn, now_ms()).resolved == [alert["id"]]


def test_bad_rule_settings_are_refused():
    with pytest.raises(rules.RuleError, match="unknown alert rule 'spik'"):
        rules.check_params("spik", {})
    with pytest.raises(rules.RuleError, match="spike has no setting 'windows'"):
        rules.check_params("spike", {"windows": 3})
    with pytest.raises(rules.RuleError, match="spike.share must be a number"):
        rules.check_params("spike", {"share": "half"})
    with pytest.raises(rules.RuleError, match="quiet.from must be HH:MM"):
        rules.check_params("quiet", {"from": "25:00"})
    assert rules.check_params("notify", {"email": "a@x.fr,b@x.fr"}) == {
        "email": ["a@x.fr", "b@x.fr"]}


def weekday_hours(weekday):
    """Opening hours: one weekday open all day, the others closed."""
    return json.dumps({str(weekday): [[0, 1440]]})


def test_offline_counts_only_opening_hours(tmp_path):
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    today = datetime.datetime.now(tz).date()
    open_day = today + datetime.timedelta(days=3)  # the only open day: three days ahead
    f = Fleet(tmp_path / "o.db", hours=weekday_hours(open_day.weekday()))
    try:
        f.telemetry()
        f.status("offline")  # the last will
        # Two hours later the site has not opened: nothing to say.
        assert evaluate.evaluate(f.conn, now_ms() + 2 * HOUR).opened == []
        opens = int(datetime.datetime(open_day.year, open_day.month, open_day.day,
                                      tzinfo=tz).timestamp() * 1000)
        assert evaluate.evaluate(f.conn, opens + 29 * MIN).opened == []
        out = evaluate.evaluate(f.conn, opens + 31 * MIN)
        [alert] = live(f, "offline")
        assert out.opened == [alert["id"]] and alert["detail"]["open_min"] == 31
        f.status("online")
        assert evaluate.evaluate(f.conn, now_ms()).resolved == [alert["id"]]
    finally:
        f.close()


def test_offline_when_telemetry_stops(fleet):
    fleet.telemetry()  # online, then silent: 3 telemetry periods (15 min) make it offline
    assert live(fleet) == [] and evaluate.evaluate(fleet.conn, now_ms() + 20 * MIN).opened == []
    out = evaluate.evaluate(fleet.conn, now_ms() + 31 * MIN)  # always open: 31 min down
    assert [a["kind"] for a in live(fleet)] == ["offline"] and len(out.opened) == 1


def test_silent_kiosk_and_its_end(fleet):
    fleet.votes([3], at_ms=now_ms() - 5 * HOUR)
    fleet.telemetry()  # online
    evaluate.evaluate(fleet.conn, now_ms())
    [alert] = live(fleet)
    assert alert["kind"] == "silent" and alert["detail"]["open_min"] >= 299
    fleet.votes([2])
    assert evaluate.evaluate(fleet.conn, now_ms()).resolved == [alert["id"]]


def test_a_kiosk_answering_a_consultation_is_not_silent(fleet):
    consultation_rows(fleet.db, 5, [fleet.site], kiosk_answers=3)
    fleet.votes([3], at_ms=now_ms() - 5 * HOUR)
    fleet.votes([1, 2], campaign=5)  # answers, no satisfaction vote
    fleet.telemetry()
    evaluate.evaluate(fleet.conn, now_ms())
    assert live(fleet, "silent") == []


def test_kiosk_health_rules(fleet):
    fleet.votes([3])
    fleet.telemetry(battery_pct=12, journal=150, dropped=2, clock="unknown", uptime_s=4000)
    evaluate.evaluate(fleet.conn, now_ms())
    found = {a["kind"]: a["detail"] for a in live(fleet)}
    assert found == {"battery": {"battery_pct": 12}, "backlog": {"journal": 150},
                     "dropped": {"dropped": 2}, "clock": {"uptime_s": 4000}}
    fleet.telemetry(battery_pct=12, journal=100, dropped=0, clock="unknown", uptime_s=3700)
    evaluate.evaluate(fleet.conn, now_ms())
    assert {a["kind"] for a in live(fleet)} == {"battery", "clock"}
    fleet.telemetry(battery_pct=80, journal=0, dropped=0, clock="ntp", uptime_s=4100)
    out = evaluate.evaluate(fleet.conn, now_ms())
    assert len(out.resolved) == 2 and live(fleet) == []


def test_a_day_far_under_its_weekday(fleet):
    now = now_ms()
    day = local_bucket("Europe/Paris", now)[0]
    for week in range(1, 5):  # four past same weekdays, happy: index 100 x 80
        t = now - week * 7 * 86_400_000
        assert local_bucket("Europe/Paris", t)[0] != day
        fleet.votes([3] * 18 + [2] * 2, at_ms=t - 3600_000, step_ms=10)
    fleet.votes([1] * 10 + [2] * 9, at_ms=now - 2 * HOUR, step_ms=10)  # 19 today: too few
    store.set_rule(fleet.conn, "*", "spike", {"enabled": False})
    assert evaluate.evaluate(fleet.conn, now).opened == []
    fleet.votes([1], at_ms=now - 2 * HOUR + 500)
    out = evaluate.evaluate(fleet.conn, now)
    [alert] = live(fleet)
    assert out.opened == [alert["id"]] and alert["kind"] == "day_low"
    assert alert["detail"]["responses"] == 20 and alert["detail"]["usual_responses"] == 80
    assert alert["detail"]["usual"] == pytest.approx(96.7, abs=0.1)
    assert alert["detail"]["gap"] >= 15 and alert["detail"]["z"] >= 2


def test_day_low_needs_the_gap_in_points_and_in_standard_errors():
    p = rules.DEFAULTS["day_low"]
    usual = {(4, 3): 60, (4, 0): 60}        # mean 50, wide spread
    assert rules.day_low(p, {(4, 3): 13, (4, 0): 17}, usual) is None  # 7 points under: small
    assert rules.day_low(p, {(4, 3): 7, (4, 0): 13}, usual) is None   # 15 under, z < 2
    assert rules.day_low(dict(p, z=1.0), {(4, 3): 7, (4, 0): 13}, usual)["gap"] == 15.0
    assert rules.day_low(p, {(4, 0): 20}, {(4, 3): 60})["z"] is None  # no spread: certain


def test_quiet_hours_hold_messages_until_they_end(fleet):
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    local = datetime.datetime.now(tz)
    start = "%02d:%02d" % ((local.hour - 1) % 24, local.minute)
    end = "%02d:%02d" % ((local.hour + 2) % 24, local.minute)
    store.set_rule(fleet.conn, "*", "notify", {"webhook": ["http://127.0.0.1:9/hook"],
                                               "email": ["qualite@mairie.example"]})
    store.set_rule(fleet.conn, "site:" + fleet.site, "quiet", {"from": start, "to": end})
    fleet.votes([0] * 4)
    at = now_ms()
    out = evaluate.evaluate(fleet.conn, at)
    assert len(out.opened) == 1 and out.queued == 2
    assert store.due_deliveries(fleet.conn, at) == []  # held: quiet hours
    held_until = store.next_due_ms(fleet.conn)
    assert 2 * HOUR - 2 * MIN < held_until - at <= 2 * HOUR
    assert len(store.due_deliveries(fleet.conn, held_until)) == 2
    # Outside quiet hours messages are due at once.
    store.clear_rule(fleet.conn, "site:" + fleet.site, "quiet")
    fleet.telemetry(battery_pct=5)
    evaluate.evaluate(fleet.conn, at)
    assert {d["target"] for d in store.due_deliveries(fleet.conn, at)} == {
        "http://127.0.0.1:9/hook", "qualite@mairie.example"}


def test_quiet_until_spans_midnight():
    tz = "Europe/Paris"
    t = int(datetime.datetime(2026, 11, 18, 23, 30, tzinfo=zoneinfo.ZoneInfo(tz))
            .timestamp() * 1000)
    quiet = {"from": "20:00", "to": "07:30"}
    assert rules.quiet_until(quiet, tz, t) == t + 8 * HOUR
    assert rules.quiet_until(quiet, tz, t - 4 * HOUR) is None  # 19:30
    assert rules.quiet_until({"from": "", "to": ""}, tz, t) is None


def test_open_time_across_the_clock_change():
    tz = "Europe/Paris"
    zone = zoneinfo.ZoneInfo(tz)
    hours = {"6": [[0, 1440]]}  # Sundays; 2026-10-25 is one, 25 hours long
    a = int(datetime.datetime(2026, 10, 24, 12, tzinfo=zone).timestamp() * 1000)
    b = int(datetime.datetime(2026, 10, 26, 12, tzinfo=zone).timestamp() * 1000)
    assert rules.open_ms(hours, tz, a, b) == 25 * HOUR
    assert rules.open_ms({}, tz, a, b) == b - a
    assert rules.open_ms({"0": [[540, 600]]}, tz, a, b) == HOUR  # Monday 9:00-10:00


def test_the_quick_evaluation_after_a_commit_looks_only_at_changed_sites_spikes(fleet):
    fleet.votes([0] * 4)
    fleet.telemetry(battery_pct=5)
    evaluate.evaluate(fleet.conn, now_ms())
    assert {a["kind"] for a in live(fleet)} == {"spike", "battery"}
    fleet.telemetry(battery_pct=80)  # the battery is fine again: not the quick one's business
    since = now_ms()
    assert evaluate.evaluate(fleet.conn, now_ms(), since + 60_000).resolved == []  # no change
    fleet.votes([3] * 10)  # the site's figures change
    out = evaluate.evaluate(fleet.conn, now_ms(), since)
    assert [store.get_alert(fleet.conn, i)["kind"] for i in out.resolved] == ["spike"]
    assert [a["kind"] for a in live(fleet)] == ["battery"]
    assert len(evaluate.evaluate(fleet.conn, now_ms()).resolved) == 1  # the full one
