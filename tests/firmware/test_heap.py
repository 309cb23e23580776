"""The kiosk's full scenario (tests/firmware/scenario.py: boot, connect, config
and time from the server, a 1,000-vote backlog drained, presses while online)
in a bounded MicroPython heap, against a real Mosquitto and `borne serve`.
bench/bench_firmware.py prints the peak and the smallest heap that works."""
import pytest

from tests.firmware import scenario

pytestmark = pytest.mark.timeout(240)


def test_full_scenario_in_the_simulator_heap(micropython, tmp_path):
    # The simulator's heap (simulator/kiosk.py), running the .mpy build a board gets.
    r = scenario.run(tmp_path, "104k")
    assert r["form"] == "mpy"
    assert r["stored"] == 1020  # every vote once, none lost, none twice
    # The heap figures the bench reports: the board's share is part of the peak.
    assert 0 < r["board_share"] < r["heap_peak"] <= 104 * 1024


def test_full_scenario_over_tls(micropython, tmp_path):
    # Over Mosquitto's TLS listener, the CA pinned through the console: the
    # scenario passes in 108 to 116 KiB depending on the run
    # (bench/bench_firmware.py); 128 KiB leaves margin.
    r = scenario.run(tmp_path, "128k", use_tls=True)
    assert r["stored"] == 1020
    assert 0 < r["board_share"] < r["heap_peak"] <= 128 * 1024


@pytest.mark.xfail(strict=True, reason="the firmware's own live peak is 85.4 KiB on the "
                   "64-bit unix port, its code 56.8 KiB of it; the scenario needs 96 to 100 KiB")
def test_full_scenario_in_64k_without_tls(micropython, tmp_path):
    r = scenario.run(tmp_path, "64k")
    assert r["stored"] == 1020
