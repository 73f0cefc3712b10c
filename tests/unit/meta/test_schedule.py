"""snapd's timer syntax: parsing with snapd's messages, week spans as timeutil matches
them (its own test table), and when a timer fires, from fixed clocks."""

from __future__ import annotations

import datetime as dt

import pytest

from usersnap.meta.schedule import ScheduleError, next_fire, parse_schedule

#     July 2018            August 2018
# Su Mo Tu We Th Fr Sa  Su Mo Tu We Th Fr Sa
#  1  2  3  4  5  6  7            1  2  3  4
#  8  9 10 11 12 13 14   5  6  7  8  9 10 11
# 15 16 17 18 19 20 21  12 13 14 15 16 17 18
# 22 23 24 25 26 27 28  19 20 21 22 23 24 25
# 29 30 31              26 27 28 29 30 31


@pytest.mark.parametrize("spec", [
    "mon", "mon-fri", "mon1", "mon1-mon", "10:00", "9:00-11:00/2", "23:00~24:00/3",
    "mon,10:00,,fri,15:00", "mon,wed,10:00,15:00", "24:00", "sun5",
])
def test_valid_schedules(spec: str) -> None:
    assert parse_schedule(spec)


@pytest.mark.parametrize(("spec", "message"), [
    ("bogus", 'cannot parse "bogus": "bogus" is not a valid weekday'),
    ("-", 'cannot parse "-": "" is not a valid weekday'),
    ("mon,", 'cannot parse "mon,": not a valid fragment'),
    ("10:00,mon", 'cannot parse "mon": invalid schedule fragment'),
    ("mon5-mon1", 'cannot parse "mon5-mon1": unsupported schedule'),
    ("mon-tue-wed", 'cannot parse "mon-tue-wed": invalid week span'),
    ("mon6", 'cannot parse "mon6": "mon6" is not a valid weekday'),
    ("mon0", 'cannot parse "mon0": "mon0" is not a valid weekday'),
    ("25:00", 'cannot parse "25:00": not a valid time'),
    ("9:00-10:00-11:00", 'cannot parse "9:00-10:00-11:00": not a valid time'),
    ("10:00/0", 'cannot parse "10:00/0": not a valid interval'),
    ("10:00/1/2", 'cannot parse "10:00/1/2": not a valid interval'),
])
def test_invalid_schedules(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError) as err:
        parse_schedule(spec)
    assert str(err.value) == message


@pytest.mark.parametrize(("week", "day", "match"), [
    ("wed1", "2018-08-01", True), ("wed1", "2018-08-08", False), ("wed2", "2018-08-08", True),
    ("tue1", "2018-08-07", True), ("sun1", "2018-07-01", True), ("tue5", "2018-07-31", True),
    ("tue5", "2018-07-24", False), ("thu5", "2018-07-26", True),
    ("mon1-fri1", "2018-08-01", False), ("mon1-fri", "2018-08-07", True),
    ("mon1-fri", "2018-08-08", True), ("mon2-fri", "2018-08-13", True),
    ("fri1-mon", "2018-08-04", True), ("fri1-mon", "2018-07-08", True),
    ("mon-fri1", "2018-08-01", True), ("mon-fri1", "2018-07-30", True),
    ("fri4-thu", "2018-08-01", True), ("fri1-mon1", "2018-07-08", True),
    ("fri1-mon", "2018-07-15", False), ("mon5-fri", "2018-07-31", True),
    ("mon-fri5", "2018-07-28", False), ("mon-fri5", "2018-07-25", True),
    ("mon1-mon", "2018-07-03", True), ("mon1-mon", "2018-07-09", True),
    ("mon1-mon", "2018-07-10", False),
    ("mon-fri", "2018-08-04", False), ("fri-mon", "2018-08-05", True),
])
def test_week_spans_match_as_snapd(week: str, day: str, match: bool) -> None:
    (sched,) = parse_schedule(week)
    assert sched.day_matches(dt.date.fromisoformat(day)) is match


@pytest.mark.parametrize(("spec", "times"), [
    ("9:00-11:00", ["09:00"]),
    ("9:00-11:00/2,20:00", ["09:00", "10:00", "20:00"]),
    ("00:00-24:00/4", ["00:00", "06:00", "12:00", "18:00"]),
    ("23:00-01:00/4", ["00:00", "00:30", "23:00", "23:30"]),
    ("24:00", ["00:00"]),
    ("mon", ["00:00"]),
    ("9:00-9:07/2", ["09:00", "09:03"]),
])
def test_fire_times_are_the_on_calendar_ones(spec: str, times: list[str]) -> None:
    (sched,) = parse_schedule(spec)
    assert [f"{m // 60:02}:{m % 60:02}" for m in sched.fire_minutes("s.a")] == times


def test_spread_windows_are_fixed_per_service_and_leave_the_last_five_minutes() -> None:
    (sched,) = parse_schedule("23:00~24:00/4")
    first = sched.fire_minutes("snap.app")
    assert first == sched.fire_minutes("snap.app")
    for minute, start in zip(first, (1380, 1395, 1410, 1425), strict=True):  # 23:00, 23:15...
        assert start <= minute < start + 10
    picks = {tuple(sched.fire_minutes(f"snap.app{i}")) for i in range(20)}
    assert len(picks) > 1
    (wide,) = parse_schedule("9:00~11:00")
    assert all(540 <= wide.fire_minutes(f"k{i}")[0] < 655 for i in range(50))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("spec", "now", "expected"), [
    ("9:00-11:00", "2018-08-06 08:00", "2018-08-06 09:00"),
    ("9:00-11:00", "2018-08-06 09:00", "2018-08-07 09:00"),
    ("mon,10:00,,fri,15:00", "2018-08-01 12:00", "2018-08-03 15:00"),
    ("mon,10:00,,fri,15:00", "2018-08-03 15:00", "2018-08-06 10:00"),
    ("mon-fri,10:00", "2018-08-03 11:00", "2018-08-06 10:00"),
    ("mon1", "2018-08-01 12:00", "2018-08-06 00:00"),
    ("mon1", "2018-08-06 00:00", "2018-09-03 00:00"),
    ("sun5,22:00", "2018-08-01 12:00", "2018-08-26 22:00"),
    # only the 5th (last) Monday, where systemd's OnCalendar would fire on the 4th too
    ("mon5,10:00", "2018-07-22 12:00", "2018-07-30 10:00"),
    ("00:00-24:00/4", "2018-08-01 18:00", "2018-08-02 00:00"),
    ("23:00-01:00/2", "2018-08-01 23:30", "2018-08-02 00:00"),
    ("mon,,10:00", "2018-08-01 10:30", "2018-08-02 10:00"),
])
def test_next_fire(spec: str, now: str, expected: str) -> None:
    assert next_fire(parse_schedule(spec), at(now), "s.a") == at(expected)


def test_next_fire_in_a_spread_window_is_stable() -> None:
    schedules = parse_schedule("9:00~11:00")
    first = next_fire(schedules, at("2018-08-01 00:00"), "s.a")
    assert at("2018-08-01 09:00") <= first < at("2018-08-01 10:55")
    assert next_fire(schedules, first, "s.a") == first + dt.timedelta(days=1)
