"""Business-time arithmetic: add a duration of business time to an instant, and measure the business
time between two instants, over a weekly calendar with holidays and pause intervals.

Pure Python (no Django), exact to the microsecond, correct across daylight-saving changes.

How it works. A calendar's windows are wall-clock times in its time zone. Between two daylight-saving
transitions the offset from UTC is fixed, so there an instant maps to a local wall time by adding that
offset, and business time is counted on the wall-clock axis with closed formulas: whole weeks times the
weekly total, plus a prefix of the week, minus the holidays before that day (a bisect). Adding walks from
one transition to the next, so a window that contains a transition (a shift across 02:00, a 24x7 calendar)
is still counted in real seconds. Windows are half-open: [09:00, 18:00). An addition ends at the earliest
instant the target is reached, so it can end exactly at a window's end but never starts counting there.

Holidays are whole local days: a fixed list, and/or a rule that names the days off of any year (a calendar
that never runs out of holidays). Rule days are materialised for the years the arithmetic reaches, a few at
a time, and kept. Running totals are counted from an anchor day inside the materialised span, so adding
years before or after the span never changes a total inside it: a computation that straddles an extension
(another thread's, or its own when an addition runs past the span) stays consistent.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["Calendar", "HolidayRule", "Window"]

_US = 1_000_000
_DAY = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
# 1970-01-01 was a Thursday: shifting day numbers by 3 makes weeks start on Monday (weekday 0).
_MONDAY_SHIFT = 3

Window = tuple[int, time, time]  # (weekday 0=Monday, start, end); an end of 00:00 means midnight (24:00)
Pause = tuple[datetime, datetime | None]  # [start, end); an open pause (end None) lasts indefinitely
HolidayRule = Callable[[int], Iterable[date]]  # the days off of one year (local dates)

#: Years a rule is asked about beyond the ones an instant needs, so that neighbouring instants (the next
#: addition, a due time next January) rarely need the span extended again.
_YEARS_MARGIN = 1
_FIRST_YEAR, _LAST_YEAR = 1, 9999  # date's own range


class Calendar:
    """Weekly business windows in a time zone, minus holidays (whole local days)."""

    def __init__(
        self,
        timezone: str | ZoneInfo,
        windows: Iterable[Window],
        holidays: Iterable[date] = (),
        *,
        holiday_rule: HolidayRule | None = None,
    ):
        """`holidays` are fixed days off; `holiday_rule(year)` names the days off of any year (both count)."""
        self.tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self._windows: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for weekday, start, end in windows:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday}")
            start_us = _time_us(start)
            end_us = _DAY if end == time(0) else _time_us(end)
            if end_us <= start_us:
                raise ValueError(f"a window must end after it starts ({start:%H:%M}–{end:%H:%M})")
            self._windows[weekday].append((start_us, end_us))
        self._windows = [_merge(day) for day in self._windows]
        self._day_total = [sum(end - start for start, end in day) for day in self._windows]
        self._prefix = [0]
        for total in self._day_total:
            self._prefix.append(self._prefix[-1] + total)
        self._week = self._prefix[-1]
        if self._week == 0:
            raise ValueError("the calendar has no business hours")
        self._fixed = sorted({_day_number(h) for h in holidays})
        self._rule = holiday_rule
        self._rule_days: dict[int, list[int]] = {}
        self._extending = threading.Lock()
        # The holidays materialised for the day numbers [_lo, _hi) (the years _years), as pairs that are
        # replaced whole: (_days, _cum) for _days_before, (_reach, _cum) for _wall_reaching. _cum[i] is the
        # business time of _days[:i] counted from the anchor day; _reach[i] the running total at the start
        # of holiday i. _publish writes _lo and _hi last, so a reader that sees a span sees its data.
        if holiday_rule is None:
            # Every holiday is known: one span over all days, anchored at the epoch.
            self._anchor: int | None = 0
            self._publish(self._fixed, -(2**62), 2**62, (_FIRST_YEAR, _LAST_YEAR))
        else:
            self._anchor = None  # set by the first materialisation, inside its span
            self._publish([], 0, 0, (0, -1))

    @classmethod
    def always(cls) -> Calendar:
        """The 24x7 clock: every second counts."""
        return _ALWAYS

    # --- public arithmetic -------------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta, pauses: Sequence[Pause] = ()) -> datetime:
        """The earliest instant at which `duration` of business time has passed since `start`, not
        counting the `pauses`."""
        amount = _duration_us(duration)
        cursor = _to_us(start)
        merged = _merge_pauses(pauses)
        if amount == 0:  # nothing to wait for, even inside a pause
            return _from_us(cursor)
        for pause_start, pause_end in merged:
            if pause_end is not None and pause_end <= cursor:
                continue
            if pause_start > cursor:
                capacity = self._between(cursor, pause_start)
                if amount <= capacity:
                    return _from_us(self._add(cursor, amount))
                amount -= capacity
            if pause_end is None:
                raise ValueError("the duration does not elapse before an open-ended pause")
            cursor = max(cursor, pause_end)
        return _from_us(self._add(cursor, amount))

    def between(self, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
        """Business time from `start` to `end` (negative if `end` is earlier), minus the pauses."""
        a, b = _to_us(start), _to_us(end)
        if b < a:
            return -self.between(end, start, pauses)
        total = self._between(a, b)
        for pause_start, pause_end in _merge_pauses(pauses):
            lo = max(pause_start, a)
            hi = b if pause_end is None else min(pause_end, b)
            if lo < hi:
                total -= self._between(lo, hi)
        return timedelta(microseconds=total)

    def is_open(self, instant: datetime) -> bool:
        """Whether `instant` lies inside a business window."""
        u = _to_us(instant)
        local = u + _offset_us(self.tz, u)
        day, second = divmod(local, _DAY)
        if self._rule is not None and not self._lo <= day < self._hi:
            self._cover(day, day)
        if day in self._day_set:
            return False
        return any(start <= second < end for start, end in self._windows[(day + _MONDAY_SHIFT) % 7])

    # --- between two transitions the offset is fixed ----------------------------------------------

    def _between(self, a: int, b: int) -> int:
        # Local days are within a day of UTC ones.
        if self._rule is not None and not (self._lo < a // _DAY and b // _DAY + 1 < self._hi):
            self._cover(a // _DAY - 1, b // _DAY + 1)
        total = 0
        while a < b:
            offset = _offset_us(self.tz, a)
            transition = _next_transition(self.tz, a, b)
            end = b if transition is None else transition
            total += self._wall_count(end + offset) - self._wall_count(a + offset)
            a = end
        return total

    def _add(self, a: int, amount: int) -> int:
        if amount <= 0:
            return a
        # Later days are covered as the addition reaches them (_wall_reaching).
        if self._rule is not None and not self._lo < a // _DAY < self._hi - 1:
            self._cover(a // _DAY - 1, a // _DAY + 1)
        while True:
            offset = _offset_us(self.tz, a)
            base = self._wall_count(a + offset)
            candidate = self._wall_reaching(base + amount) - offset
            transition = _next_transition(self.tz, a, candidate)
            if transition is None or transition >= candidate:
                return candidate
            amount -= self._wall_count(transition + offset) - base
            a = transition

    # --- counting on the wall-clock axis (microseconds since 1970-01-01 00:00 local) -----------------

    def _days_before(self, day: int) -> int:
        """Business time in all days before `day` (a day number), holidays excluded (a running total from
        the anchor's point of view: only differences of totals mean anything)."""
        weeks, weekday = divmod(day + _MONDAY_SHIFT, 7)
        days, cum = self._days_cum
        return weeks * self._week + self._prefix[weekday] - cum[bisect.bisect_left(days, day)]

    def _wall_count(self, wall: int) -> int:
        """Business time from the origin to the wall-clock time `wall` (a running total)."""
        day, second = divmod(wall, _DAY)
        count = self._days_before(day)
        if day not in self._day_set:
            for start, end in self._windows[(day + _MONDAY_SHIFT) % 7]:
                if second <= start:
                    break
                count += min(second, end) - start
        return count

    def _wall_reaching(self, target: int) -> int:
        """The earliest wall-clock time at which the running total reaches `target`."""
        # The holidays before the target's day are exactly those whose start the total passes below the
        # target; skipping their business time, the day follows from the weekly pattern alone. A day past
        # the materialised span may lie before holidays not known yet: extend the span and look again.
        while True:
            hi = self._hi  # read before the totals: a span is published after its data
            reach, cum = self._reach_cum
            day = self._first_day_reaching(target + cum[bisect.bisect_left(reach, target)])
            if day < hi:
                break
            self._cover(day, day)
        remaining = target - self._days_before(day)
        for start, end in self._windows[(day + _MONDAY_SHIFT) % 7]:
            if remaining <= end - start:
                return day * _DAY + start + remaining
            remaining -= end - start
        raise AssertionError("unreachable: the chosen day holds the target")  # pragma: no cover

    # --- holidays ------------------------------------------------------------------------------------

    def _cover(self, first_day: int, last_day: int) -> None:
        """Materialise the holidays at least for the days [first_day, last_day] (whole years, with a margin,
        joined to the years already known)."""
        with self._extending:
            if self._lo <= first_day and last_day < self._hi:
                return  # another thread did it
            first_year = max(_FIRST_YEAR, _year_of(first_day) - _YEARS_MARGIN)
            last_year = min(_LAST_YEAR, _year_of(last_day) + _YEARS_MARGIN)
            known_first, known_last = self._years
            if known_first <= known_last:
                first_year, last_year = min(first_year, known_first), max(last_year, known_last)
            lo = _day_number(date(first_year, 1, 1))
            hi = _day_number(date(last_year, 12, 31)) + 1
            if self._anchor is None:
                self._anchor = lo
            days = {d for d in self._fixed if lo <= d < hi}
            for year in range(first_year, last_year + 1):
                if year not in self._rule_days:  # each year is asked once
                    self._rule_days[year] = [_day_number(day) for day in self._rule(year)]  # type: ignore[misc]
                days.update(self._rule_days[year])
            self._publish(sorted(d for d in days if lo <= d < hi), lo, hi, (first_year, last_year))

    def _publish(self, days: list[int], lo: int, hi: int, years: tuple[int, int]) -> None:
        """Totals for `days`, counted from the anchor (inside [lo, hi)); the span last."""
        kept = [d for d in days if self._day_total[(d + _MONDAY_SHIFT) % 7]]
        cum = [0]
        for d in kept:
            cum.append(cum[-1] + self._day_total[(d + _MONDAY_SHIFT) % 7])
        if kept:
            before_anchor = cum[bisect.bisect_left(kept, self._anchor)]
            cum = [c - before_anchor for c in cum]
        reach = []
        for i, d in enumerate(kept):
            weeks, weekday = divmod(d + _MONDAY_SHIFT, 7)
            reach.append(weeks * self._week + self._prefix[weekday] - cum[i])
        self._days_cum = (kept, cum)
        self._reach_cum = (reach, cum)
        self._day_set = frozenset(kept)
        self._years = years
        # The span last: the unlocked checks trust what it says. Spans only grow, so a reader that sees one
        # bound new and the other old still sees a span the data above covers.
        self._lo = lo
        self._hi = hi

    def _first_day_reaching(self, target: int) -> int:
        """The first day by the end of which the running total, ignoring holidays, reaches `target`."""
        weeks, rest = divmod(target - 1, self._week)
        weekday = bisect.bisect_left(self._prefix, rest + 1, 1) - 1
        return weeks * 7 + weekday - _MONDAY_SHIFT


def _merge(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _merge_pauses(pauses: Sequence[Pause]) -> list[tuple[int, int | None]]:
    spans = sorted((_to_us(start), None if end is None else _to_us(end)) for start, end in pauses)
    merged: list[tuple[int, int | None]] = []
    for start, end in spans:
        if end is not None and end <= start:
            continue
        if merged and (merged[-1][1] is None or start <= merged[-1][1]):
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, None if last_end is None or end is None else max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _day_number(day: date) -> int:
    return (day - _EPOCH.date()).days


def _year_of(day_number: int) -> int:
    if day_number < _day_number(date(_FIRST_YEAR, 1, 1)):
        return _FIRST_YEAR
    if day_number > _day_number(date(_LAST_YEAR, 12, 31)):
        return _LAST_YEAR
    return (_EPOCH.date() + timedelta(days=day_number)).year


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US + value.microsecond


def _duration_us(duration: timedelta) -> int:
    amount = duration // _ONE_US
    if amount < 0:
        raise ValueError("a duration to add must not be negative")
    return amount


def _to_us(instant: datetime) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("business-time arithmetic needs aware datetimes")
    return (instant - _EPOCH) // _ONE_US


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _offset_us(tz: ZoneInfo, utc_us: int) -> int:
    start, end, transitions, offsets = _zone_table(tz)
    if start <= utc_us < end:
        return offsets[bisect.bisect_right(transitions, utc_us)]
    return _from_us(utc_us).astimezone(tz).utcoffset() // _ONE_US


def _next_transition(tz: ZoneInfo, after: int, until: int) -> int | None:
    """The first UTC offset change in (after, until), as microseconds since the epoch, or None."""
    if until <= after:
        return None
    start, end, transitions, _ = _zone_table(tz)
    if start <= after and until <= end:
        index = bisect.bisect_right(transitions, after)
        if index < len(transitions) and transitions[index] < until:
            return transitions[index]
        return None
    first_year = _from_us(after).year
    last_year = _from_us(until).year
    for year in range(first_year, last_year + 1):
        transitions = _transitions(tz, year)
        index = bisect.bisect_right(transitions, after)
        if index < len(transitions):
            found = transitions[index]
            return found if found < until else None
    return None


#: Years whose offset changes are tabulated once per zone, so the hot path needs no datetime objects.
_TABLE_YEARS = (1970, 2100)


@lru_cache(maxsize=64)
def _zone_table(tz: ZoneInfo) -> tuple[int, int, list[int], list[int]]:
    """(start, end, transitions, offsets) of the zone over _TABLE_YEARS: offsets[i] is the offset before
    transitions[i], offsets[-1] the one after the last."""
    first, last = _TABLE_YEARS
    start = (datetime(first, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
    end = (datetime(last + 1, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
    transitions = [t for year in range(first, last + 1) for t in _transitions(tz, year)]
    offsets = [_from_us(start).astimezone(tz).utcoffset() // _ONE_US]
    offsets += [_from_us(t).astimezone(tz).utcoffset() // _ONE_US for t in transitions]
    return start, end, transitions, offsets


@lru_cache(maxsize=16384)
def _transitions(tz: ZoneInfo, year: int) -> tuple[int, ...]:
    """Instants in `year` (UTC) at which the zone's offset changes, found by scanning days then bisecting."""
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    previous = day.astimezone(tz).utcoffset()
    while day < end:
        following = day + timedelta(days=1)
        offset = following.astimezone(tz).utcoffset()
        if offset != previous:
            lo, hi = (day - _EPOCH) // _ONE_US, (following - _EPOCH) // _ONE_US
            while hi - lo > _US:  # bisect to the second; offsets change on whole seconds
                mid = (lo + hi) // 2
                if _from_us(mid).astimezone(tz).utcoffset() == previous:
                    lo = mid
                else:
                    hi = mid
            found.append(hi - hi % _US)
            previous = offset
        day = following
    return tuple(found)


_ALWAYS = Calendar("UTC", [(weekday, time(0), time(0)) for weekday in range(7)])
