"""An update over the air under power cuts: the real updater (firmware/ota.py)
and boot selector (firmware/bootsel.py) under the MicroPython unix port, on
LittleFS over a file-backed block device that cuts the power at the k-th
write, for every k of an update: each chunk written, the image's check, the
install into the slot and the switch of boot.json. After each cut the kiosk
boots either the old firmware or the whole new one, and the update then
completes; a tampered chunk is caught by the image's hash and fetched again."""
import pytest

from tests.realparts import run_mpy


@pytest.mark.parametrize("mode", ["clean", "torn", "clean tamper"])
def test_power_cut_at_every_write_of_an_update(micropython, tmp_path, mode):
    r = run_mpy(micropython, "ota_powercut.py", tmp_path / "flash.img", *mode.split())
    assert r["writes"] > 3 * 5  # five chunks at least, three files, boot.json
    assert r["cuts"] == r["writes"]
    assert r["failures"] == []
