"""snapd's timer syntax (``timeutil.ParseSchedule``) and when a timer fires.

``timer:`` in snap.yaml is parsed here at validation time, with snapd's error wording,
and again by the supervisor, which fires the service at the times systemd would: snapd
turns a schedule into ``OnCalendar=`` lines (``wrappers/internal/service_timer_gen.go``)
that fire at the *start* of every clock span, of every ``/N`` part of a span, or at a
random point of a ``~`` span (chosen once, when the unit is written; here derived from
the service's name, so it is stable across restarts).  A schedule with days but no
time fires at midnight.  Times are minutes of the local day, as systemd's are.

The grammar (``eventlist``), from snapd's documentation::

    eventlist = eventset *( ",," eventset )
    eventset  = wdaylist / timelist / wdaylist "," timelist
    wdayset   = wday / wdaynumber / wdayspan        e.g. mon, mon1, sun5 (last), mon-fri
    timeset   = time / timespan                      e.g. 9:00, 9:00-11:00, 9:00~11:00/2
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from usersnap.meta.gostd import GoNumError, go_parse_uint, go_quote

#: Go's weekday numbers (Sunday is 0)
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
EVERY_WEEK = 0
LAST_WEEK = 5
_VALID_TIME = re.compile(r"([0-9]|0[0-9]|1[0-9]|2[0-3]):([0-5][0-9])|24:00")
_DAY = 24 * 60
_NS_MINUTE = 60 * 10**9
#: snapd shortens a ``~`` window by this much so that runs do not come back to back
_SPREAD_MARGIN = 5
#: every valid schedule fires within a few weeks; a bound keeps a bug from spinning
_HORIZON_DAYS = 400


class ScheduleError(ValueError):
    """An invalid ``timer:``; the message is snapd's (without ``timer has invalid format``)."""


@dataclass(frozen=True, slots=True)
class Week:
    weekday: int  # Go's: Sunday is 0
    #: 0 every week, 1-4 the nth such weekday of the month, 5 the last
    pos: int = EVERY_WEEK


def _go_weekday(day: dt.date) -> int:
    return (day.weekday() + 1) % 7


def _nth_weekday(day: dt.date, weekday: int, nth: int) -> dt.date:
    """``findNthWeekDay``: the nth ``weekday`` of ``day``'s month (may run past it)."""
    out = day.replace(day=1)
    seen = 0
    while True:
        if _go_weekday(out) == weekday:
            seen += 1
            if seen == nth:
                return out
        out += dt.timedelta(days=1)


def _month_next(day: dt.date) -> dt.date:
    """The first day of the next month."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _last_weekday(day: dt.date, weekday: int) -> dt.date:
    out = _month_next(day) - dt.timedelta(days=1)
    while _go_weekday(out) != weekday:
        out -= dt.timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class WeekSpan:
    """Days from ``start`` to ``end``, wrapping around the week (``fri-mon``); with a
    position, anchored in the month (``mon1-wed``: the first Monday to the Wednesday
    after it)."""

    start: Week
    end: Week

    @property
    def single_day(self) -> bool:
        return self.start == self.end

    @property
    def anchored_at_start(self) -> bool:
        return self.start.pos != EVERY_WEEK

    def matches(self, day: dt.date) -> bool:
        """``WeekSpan.Match``."""
        first, last = self.start.weekday, self.end.weekday
        if self.start.pos == EVERY_WEEK and self.end.pos == EVERY_WEEK:
            weekday = _go_weekday(day)
            if first <= last:
                return first <= weekday <= last
            return weekday >= first or weekday <= last
        lo, hi = self._range_anchored_at(day)
        if day < lo or day > hi:
            # the span may spill over from the previous month or into the next one
            if self.anchored_at_start:
                if (day.day - 1) // 7 != 0:
                    return False
                lo, hi = self._range_anchored_at(day.replace(day=1) - dt.timedelta(days=1))
            else:
                if (day + dt.timedelta(days=7)).month == day.month:
                    return False
                lo, hi = self._range_anchored_at(_month_next(day))
        return lo <= day <= hi

    def _range_anchored_at(self, day: dt.date) -> tuple[dt.date, dt.date]:
        """``dateRangeAnchoredAt``: the span's dates with its anchor in ``day``'s month."""
        pos = self.start.pos if self.anchored_at_start else self.end.pos
        if pos != LAST_WEEK:
            lo = _nth_weekday(day, self.start.weekday, pos)
            hi = _nth_weekday(day, self.end.weekday, pos)
        else:
            lo = _last_weekday(day, self.start.weekday)
            hi = _last_weekday(day, self.end.weekday)
        if lo > hi or (lo == hi and not self.single_day):
            if self.anchored_at_start:
                hi += dt.timedelta(days=7)
            else:
                lo -= dt.timedelta(days=7)
        return lo, hi


def _clock_sub(a: int, b: int) -> int:
    """``Clock.Sub`` in minutes, with its wrap-around (23:00-1:00 gives -2 h)."""
    diff = a - b
    return -(diff + _DAY) if diff < 0 else diff


@dataclass(frozen=True, slots=True)
class ClockSpan:
    """Minutes of the day; ``end`` may be before ``start`` (crossing midnight), 1440 is
    24:00."""

    start: int
    end: int
    split: int = 0
    spread: bool = False

    def parts(self) -> list[ClockSpan]:
        """``ClockSpans``: ``/N`` cuts the span into N equal parts (whole minutes, as
        ``Clock.Add`` truncates)."""
        if self.split in (0, 1) or self.start == self.end:
            return [self]
        step = abs(_clock_sub(self.end, self.start)) * _NS_MINUTE // self.split
        out = []
        for i in range(self.split):
            start = _clock_add(self.start, i * step)
            out.append(ClockSpan(start, _clock_add(start, step), 0, self.spread))
        return out

    def fire_minute(self, key: str) -> int:
        """When systemd fires for this (unsplit) span: its start, or a point of a ``~``
        window (``randutil.RandomDuration`` in snapd; a hash of ``key`` here)."""
        when = self.start
        if self.spread:
            length = abs(_clock_sub(self.end, self.start))
            if length > _SPREAD_MARGIN:
                length -= _SPREAD_MARGIN
            if length > 0:
                digest = hashlib.sha256(key.encode()).digest()
                when = _clock_add(when, int.from_bytes(digest[:8], "big") % (length * _NS_MINUTE))
        return when % _DAY


def _clock_add(minutes: int, ns: int) -> int:
    """``Clock.Add``: hours modulo 24, whole minutes."""
    total = minutes * _NS_MINUTE + ns
    return (total // (60 * _NS_MINUTE)) % 24 * 60 + (total // _NS_MINUTE) % 60


@dataclass(frozen=True, slots=True)
class Schedule:
    """One event set: on these days (every day when none), at these times (midnight
    when none)."""

    week_spans: tuple[WeekSpan, ...]
    clock_spans: tuple[ClockSpan, ...]

    def day_matches(self, day: dt.date) -> bool:
        return not self.week_spans or any(w.matches(day) for w in self.week_spans)

    def fire_minutes(self, key: str) -> list[int]:
        """The minutes of a matching day at which this event set fires."""
        if not self.clock_spans:
            return [0]
        return sorted({part.fire_minute(f"{key}/{i}/{j}")
                       for i, span in enumerate(self.clock_spans)
                       for j, part in enumerate(span.parts())})


def parse_schedule(spec: str) -> list[Schedule]:
    """``timeutil.ParseSchedule``; ScheduleError carries snapd's reason."""
    return [_parse_event_set(event_set) for event_set in spec.split(",,")]


def next_fire(schedules: list[Schedule], now: dt.datetime, key: str) -> dt.datetime:
    """The first time strictly after ``now`` (naive local time) at which a timer with
    these schedules fires; ``key`` (``snap.app``) fixes the points of ``~`` windows."""
    today = now.date()
    for offset in range(_HORIZON_DAYS):
        day = today + dt.timedelta(days=offset)
        times = [dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
                 for index, sched in enumerate(schedules) if sched.day_matches(day)
                 for minute in sched.fire_minutes(f"{key}/{index}")]
        later = [t for t in times if t > now]
        if later:
            return min(later)
    raise ScheduleError(f"schedule never fires within {_HORIZON_DAYS} days")


def _parse_event_set(text: str) -> Schedule:
    weeks: list[WeekSpan] = []
    clocks: list[ClockSpan] = []
    expect_time = False
    for fragment in text.split(","):
        if not fragment:
            raise ScheduleError(f"cannot parse {go_quote(text)}: not a valid fragment")
        if ":" in fragment:
            clocks.append(_parse_clock_span(fragment))
            expect_time = True
        elif not expect_time:
            weeks.append(_parse_week_span(fragment))
        else:
            raise ScheduleError(f"cannot parse {go_quote(fragment)}: invalid schedule fragment")
    return Schedule(tuple(weeks), tuple(clocks))


def _parse_week_span(text: str) -> WeekSpan:
    parts = text.split("-")
    if len(parts) > 2:
        raise ScheduleError(f"cannot parse {go_quote(text)}: invalid week span")
    days = []
    for part in parts:
        week = _parse_weekday(part)
        if week is None:
            raise ScheduleError(
                f"cannot parse {go_quote(text)}: {go_quote(part)} is not a valid weekday")
        days.append(week)
    start, end = days[0], days[-1]
    if start.pos != EVERY_WEEK and end.pos != EVERY_WEEK:
        if end.pos < start.pos:
            raise ScheduleError(f"cannot parse {go_quote(text)}: unsupported schedule")
        if start != end:  # mon1-tue2 is read as mon1-tue, as snapd does
            end = Week(end.weekday)
    return WeekSpan(start, end)


def _parse_weekday(text: str) -> Week | None:
    if len(text) not in (3, 4) or text[:3] not in WEEKDAYS:
        return None
    pos = EVERY_WEEK
    if len(text) == 4:
        try:
            pos = go_parse_uint(text[3:], 10, 32)
        except GoNumError:
            return None
        if not 1 <= pos <= LAST_WEEK:
            return None
    return Week(WEEKDAYS.index(text[:3]), pos)


def _parse_clock(text: str) -> int | None:
    match = _VALID_TIME.fullmatch(text)
    if match is None:
        return None
    if text == "24:00":
        return _DAY
    return int(match.group(1)) * 60 + int(match.group(2))


def _parse_clock_span(text: str) -> ClockSpan:
    rest, split = text, 0
    if "/" in text:
        parts = text.split("/")
        try:
            split = go_parse_uint(parts[1], 10, 32) if len(parts) == 2 else 0
        except GoNumError:
            split = 0
        if split == 0:
            raise ScheduleError(f"cannot parse {go_quote(text)}: not a valid interval")
        rest = parts[0]
    spread = "~" in rest
    rest = rest.replace("~", "-", 1)
    if "-" in rest:
        first, _, second = rest.partition("-")
        start, end = _parse_clock(first), _parse_clock(second)
    else:
        start = end = _parse_clock(rest)
    if start is None or end is None:
        raise ScheduleError(f"cannot parse {go_quote(text)}: not a valid time")
    return ClockSpan(start, end, split, spread)
