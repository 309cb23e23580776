"""Time on the kiosk, on the real firmware under the MicroPython unix port. The
simulated board's ticks wrap every 2^30 ms as a board's do, its RTC keeps UTC
across a reset but not across a power cut, and `sim idle S` fast-forwards idle
time (simulator/mpy/CONTROL.md)."""
import pytest

from tests.firmware_support import Firmware

pytestmark = pytest.mark.timeout(60)
DAY = 86400
PERIOD = 1 << 30


@pytest.fixture
def fw(micropython, tmp_path):
    f = Firmware(micropython, tmp_path / "flash.img")
    yield f
    f.stop()


@pytest.mark.parametrize("ntp", ["0", "1"])
def test_boot_time_is_monotonic_across_tick_wraparound(fw, ntp):
    # Offline and idle for 7 days (past half the ticks period: ticks_diff
    # turns negative), 13 (past a whole period) and 40 (several periods).
    fw.start(BORNE_NTP=ntp)
    assert fw.ask("status")["clock"] == ("ntp" if ntp == "1" else "unknown")
    assert fw.ask("press 0") == {"seq": 1}
    seq = 1
    idle = 0
    up = fw.ask("status")["uptime_s"]
    for days in (7, 13, 40):
        ans = fw.ask("sim idle %d" % (days * DAY))
        assert 0 <= ans["ticks_ms"] < PERIOD  # the board's ticks, wrapped
        idle += days * DAY
        st = fw.ask("status")
        assert up + days * DAY <= st["uptime_s"] <= up + days * DAY + 30, (days, st)
        up = st["uptime_s"]
        assert up >= idle
        # The lockout measures from the last vote: long ago, so this press counts ...
        seq += 1
        assert fw.ask("press %d" % (days % 4)) == {"seq": seq}
        # ... and the next one, right after, is inside it.
        assert "suppressed" in fw.ask("press 1")


def test_rtc_keeps_utc_across_a_reset_not_a_power_cut(fw):
    fw.start(BORNE_NTP="1")  # the clock from NTP also sets the RTC
    assert fw.ask("status")["clock"] == "ntp"
    fw.ask("sim idle %d" % DAY)
    assert fw.ask("reboot") == {}
    assert fw.wait_exit() == 0
    fw.start(BORNE_NTP="")  # no network time this boot
    st = fw.ask("status")
    assert st["boot"] == 2 and st["clock"] == "rtc"  # votes are dated at once
    assert fw.ask("press 2") == {"seq": 1}
    fw.kill()  # a power cut: the RTC starts again from its epoch
    fw.start(BORNE_NTP="")
    st = fw.ask("status")
    assert st["boot"] == 3 and st["clock"] == "unknown"


def test_sim_lines_are_refused_when_malformed(fw):
    fw.start()
    for line in ("sim idle", "sim idle -3", "sim frobnicate"):
        ans = fw.ask(line)
        assert isinstance(ans, tuple) and ans[0] == "ERR", (line, ans)
    assert fw.ask("status")["uptime_s"] < DAY
