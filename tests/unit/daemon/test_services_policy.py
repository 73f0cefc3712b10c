"""The pure rules of supervision: durations, restart table, start limit, stop signals,
order, and the log files' rotation and reading."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from usersnap.daemon.logs import LogWriter, read_entries
from usersnap.daemon.services import (
    Outcome,
    StartLimit,
    outcome_of,
    parse_duration,
    should_restart,
    start_order,
    stop_signal,
)
from usersnap.errors import UsersnapError
from usersnap.meta.model import App


def test_durations() -> None:
    assert parse_duration("1m30s", 0) == 90
    assert parse_duration("500ms", 0) == 0.5
    assert parse_duration("", 7) == 7
    assert parse_duration("0", 7) == 0
    with pytest.raises(UsersnapError, match='invalid duration "10"'):
        parse_duration("10", 0)


@pytest.mark.parametrize(("condition", "code", "expected"), [
    ("", 1, True), ("", 0, False), ("", 128 + 9, True), ("", 128 + 15, False),
    ("never", 1, False), ("always", 0, True), ("on-success", 0, True),
    ("on-success", 1, False), ("on-abnormal", 1, False), ("on-abnormal", 128 + 9, True),
    ("on-abort", 128 + 6, True), ("on-watchdog", 128 + 9, False), ("on-failure", -9, True),
])
def test_restart_table(condition: str, code: int, expected: bool) -> None:
    assert should_restart(condition, outcome_of(code)) is expected


def test_outcome_wording() -> None:
    assert outcome_of(137).describe() == "code=killed, status=9/KILL"
    assert outcome_of(3).describe() == "code=exited, status=3/FAILURE"
    assert Outcome("exited", 0).clean


def test_start_limit_is_five_per_ten_seconds() -> None:
    limit = StartLimit()
    assert all(limit.allow(t) for t in (0, 1, 2, 3, 4))
    assert not limit.allow(5)
    assert limit.allow(10.5)
    limit.reset()
    assert limit.allow(10.6)


def test_stop_signals() -> None:
    assert stop_signal("") == (signal.SIGTERM, False)
    assert stop_signal("sighup-all") == (signal.SIGHUP, True)
    assert stop_signal("sigusr2") == (signal.SIGUSR2, False)


def test_start_order_honours_before_and_after() -> None:
    apps = [App("a", daemon="simple", after=("b",)), App("b", daemon="simple"),
            App("c", daemon="simple", before=("b",))]
    assert [a.name for a in start_order(apps)] == ["c", "b", "a"]


def test_logs_rotate_and_read_back(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "s.log", max_bytes=200, keep=2)
    for i in range(20):
        writer.write("snap.app", 42, f"line {i}", when=float(i))
    assert sorted(p.name for p in tmp_path.glob("s.log*")) == ["s.log", "s.log.1", "s.log.2"]
    entries = read_entries([tmp_path / "s.log"], 3)
    assert [e.message for e in entries] == ["line 17", "line 18", "line 19"]
    assert entries[0].to_json() == {"timestamp": "1970-01-01T00:00:17Z", "message": "line 17",
                                    "sid": "snap.app", "pid": "42"}
    assert len(read_entries([tmp_path / "s.log"], -1)) < 20  # older ones rotated away

