"""The vote journal under the real MicroPython unix port, on real LittleFS
over a file-backed block device that cuts the power at the k-th write."""

import pytest

from tests.realparts import run_mpy


@pytest.mark.parametrize("votes,step,mode,acks", [
    (40, 1, "clean", "acks"),  # a cut before every single write of a short run
    (40, 1, "torn", "acks"),  # the same, the cut write half done
    (240, 5, "torn", "acks"),  # every 5th write of a longer run
    (120, 1, "torn", "backlog"),  # every write while a backlog is packed, then acked
])
def test_power_cut_loses_no_confirmed_vote(micropython, tmp_path, votes, step, mode, acks):
    r = run_mpy(micropython, "journal_powercut.py", tmp_path / "flash.img", votes, step, mode,
                acks)
    assert r["writes"] > votes  # every vote wrote to flash
    assert r["cuts"] == (r["writes"] + step - 1) // step
    assert r["failures"] == []


@pytest.fixture(scope="module")
def rules(micropython, tmp_path_factory):
    return run_mpy(micropython, "journal_rules.py",
                   tmp_path_factory.mktemp("rules") / "flash.img")


def test_full_journal_drops_oldest_and_counts(rules):
    # capacity 32, segments of 8: 100 votes keep the newest, never block
    assert rules["full_last"] == 100
    assert rules["full_pending"] == 100 - rules["full_dropped"]
    assert rules["full_pending"] <= 32
    assert rules["full_first"] == rules["full_dropped"] + 1
    assert rules["dropped_after_boot"] == rules["full_dropped"]  # persisted


def test_damaged_record_cut_off_and_its_seq_not_reused(rules):
    assert rules["torn_corrupt"] == 1
    assert rules["torn_pending"] == [4, 4]
    assert rules["torn_next"] == 6


def test_lockout_suppresses_and_bursts_are_flagged(rules):
    assert rules["lockout"] == ["vote", "suppressed"]
    assert rules["suppressed"] == 1
    # clock unknown (bit 0) on all; the 11th vote within a minute and after: burst (bit 2)
    assert rules["burst_flags"] == [1] * 9 + [5] * 3
    assert rules["bad_button_thanked"] == 13  # a button outside the scale is no vote


def test_outside_opening_hours_flagged(rules):
    assert rules["open_flags"] == 0
    assert rules["closed_flags"] == 2


def test_each_vote_keeps_its_campaign_and_batches_split(rules):
    # plan per seq 1..12: 0 0 5 5 5 0 9 9 9 9 9 0, then 3 and 7 with no vote
    assert rules["camp_after_boot"] == 7  # the change is on flash before any vote
    assert rules["camp_groups"] == [[0, [1, 2]], [5, [3, 4, 5]], [0, [6]],
                                    [9, [7, 8, 9, 10, 11]], [0, [12]]]
    assert rules["camp_same"] == [True] * 5  # the kiosk's bytes are server_wire's
    assert rules["camp_entries"] == [[3, 5], [6, 0], [7, 9], [12, 0], [13, 7]]
    assert rules["camp_entries_acked"] == []


def test_batches_from_journal_match_the_wire_encoder(rules):
    assert rules["batch_same"] == [True] * 10


def test_buttons_are_debounced(rules):
    # two real presses, each with contact bounce
    assert rules["debounced_presses"] == 2


def test_reconnection_backoff_is_capped_with_jitter(rules):
    assert rules["backoff"] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    low, high = rules["jitter"]
    assert 6 <= low < high <= 8  # never more than the delay, at most 25% less


def test_backlog_with_a_short_segment_is_packed_in_order(rules):
    assert rules["pack_short"] == [True] * 6


def test_littlefs_refuses_a_partition_mounted_over_the_whole_flash(micropython, tmp_path):
    # Why the rp2's journal stays in LittleFS (firmware/README.md, Flash
    # cost): a LittleFS formatted on part of the flash does not mount over
    # the whole of it, as the rp2's _boot.py mounts it, which then formats.
    r = run_mpy(micropython, "lfs_partition.py", tmp_path / "flash.img")
    assert r == {"whole": "OSError 22", "partition": "vote"}
