from __future__ import annotations

import time

from usersnap.cli.render import human_size, human_time, parse_rfc3339, table


def test_table_matches_snap_list_alignment() -> None:
    rows = [["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"],
            ["hello", "1.0", "x1", "-", "-", "-"]]
    assert table(rows).splitlines() == [
        "Name   Version  Rev  Tracking  Publisher  Notes",
        "hello  1.0      x1   -         -          -",
    ]


def test_sizes_are_decimal_like_snap() -> None:
    assert [human_size(n) for n in (0, 999, 4096, 12_500_000)] == ["0B", "999B", "4kB", "12MB"]


def test_relative_days() -> None:
    now = time.time()
    assert human_time(now, now).startswith("today at ")
    assert human_time(now - 86400, now).startswith("yesterday at ")


def test_rfc3339_with_go_fractions() -> None:
    assert parse_rfc3339("2026-11-22T04:39:01.5Z") == 1795322341.5
    assert parse_rfc3339("2026-11-22T05:39:01+01:00") == 1795322341
    assert parse_rfc3339("") is None
    assert parse_rfc3339(None) is None
