"""The kiosk's full scenario (tests/firmware/scenario.py: boot, connect, config
and time from the server, a 1,000-vote backlog drained, presses while online)
in a bounded MicroPython heap, against a real Mosquitto and `borne serve`.
bench/bench_firmware.py prints the peak and the smallest heap that works."""
import os

import pytest

from tests.firmware import scenario

pytestmark = pytest.mark.timeout(240)


def test_full_scenario_in_100k(micropython, tmp_path):
    # The .mpy build a board gets; the scenario passes in 96 KiB
    # (bench/bench_firmware.py), 100 KiB leaves a step of margin.
    r = scenario.run(tmp_path, "100k")
    assert r["form"] == "mpy"
    assert r["stored"] == 1020  # every vote once, none lost, none twice
    # The heap figures the bench reports: the board's share is part of the peak.
    assert 0 < r["board_share"] < r["heap_peak"] <= 100 * 1024
    # Connected, the code used once per connection or per console line is
    # not held (firmware/README.md, Memory).
    assert {"sync", "mqtt", "console"} <= set(r["modules"])
    assert not set(r["modules"]) & {"sync_open", "mqtt_open", "commands", "staging"}


def test_full_scenario_over_tls(micropython, tmp_path):
    # Over Mosquitto's TLS listener, the CA pinned through the console: the
    # scenario passes in 108 to 112 KiB (bench/bench_firmware.py); 120 KiB
    # leaves margin.
    r = scenario.run(tmp_path, "120k", use_tls=True)
    assert r["stored"] == 1020
    assert 0 < r["board_share"] < r["heap_peak"] <= 120 * 1024


def test_full_scenario_with_the_bytecode_in_place_from_a_romfs_image(micropython, tmp_path):
    # As on a board built with ROMFS: the build's .mpy imported from a ROMFS
    # image run in place, not copied into the heap. The unix port has no
    # ROM, so the image is read into the heap and counted in the board's
    # share; without it the firmware's own peak is 57.4 KiB
    # (bench/bench_firmware.py), against 81.6 KiB with the bytecode copied.
    r = scenario.run(tmp_path, "160k", romfs=True)
    assert r["form"] == "romfs"
    assert r["stored"] == 1020
    assert os.path.getsize(scenario.romfs_image()) < r["board_share"]
    assert r["heap_peak"] - r["board_share"] <= 64 * 1024


@pytest.mark.xfail(strict=True, reason="the firmware's own live peak is 81.6 KiB on the "
                   "64-bit unix port, its code 51.0 KiB of it; the scenario needs 96 KiB")
def test_full_scenario_in_64k_without_tls(micropython, tmp_path):
    r = scenario.run(tmp_path, "64k")
    assert r["stored"] == 1020
