"""Business time over holidays named by a rule (sla/business_time.py `holiday_rule`): the calendar
materialises the years it reaches and never runs out. Checked against the same calendar given every
holiday up front, and against the slow minute-by-minute reference of test_business_time.py, in
2026–2040, in both directions of extension and from several threads. No database."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.business_time import Calendar
from tests.sla.test_business_time import (
    ONE_US,
    _in_any_zone,
    _instant_from,
    assert_instant,
    reference_add,
    reference_between,
    reference_minutes,
)

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
HOURS = [(weekday, time(9), time(18)) for weekday in range(5)]
FIRST, LAST = datetime(2026, 1, 1, tzinfo=UTC), datetime(2041, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0=Monday) of the month; n=-1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def observed(day: date) -> date:
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def us_days_off(year: int) -> list[date]:
    """US federal holidays (observed Saturday → Friday, Sunday → Monday) and the day after Thanksgiving,
    written out independently of python-holidays. New Year's Day on a Saturday is observed on the
    Friday before, in the previous year: that day belongs to `year - 1`'s list here too."""
    thanksgiving = nth_weekday(year, 11, 3, 4)
    days = [
        nth_weekday(year, 1, 0, 3),
        nth_weekday(year, 2, 0, 3),
        nth_weekday(year, 5, 0, -1),
        observed(date(year, 6, 19)),
        observed(date(year, 7, 4)),
        nth_weekday(year, 9, 0, 1),
        nth_weekday(year, 10, 0, 2),
        observed(date(year, 11, 11)),
        thanksgiving,
        thanksgiving + timedelta(days=1),
        observed(date(year, 12, 25)),
    ]
    for new_year in (date(year, 1, 1), date(year + 1, 1, 1)):
        if observed(new_year).year == year:
            days.append(observed(new_year))
    return days


def every_day_off(first_year: int = 2020, last_year: int = 2046) -> list[date]:
    return [day for year in range(first_year, last_year + 1) for day in us_days_off(year)]


def rule_calendar(zone: ZoneInfo = LA) -> Calendar:
    return Calendar(zone, HOURS, holiday_rule=us_days_off)


def fixed_calendar(zone: ZoneInfo = LA) -> Calendar:
    return Calendar(zone, HOURS, every_day_off())


class _Spec:
    """The reference's view of a calendar (see test_business_time.Spec): plain data."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.holidays = frozenset(every_day_off())

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        return local.date() not in self.holidays and local.weekday() < 5 and 9 <= local.hour < 18


instants = _in_any_zone(_instant_from(FIRST, (LAST - FIRST) // ONE_US - 1))


def test_new_years_day_2029_is_not_a_business_day():
    """The bug that made one scenario in four wrong from 2029 on: the table ended in 2028."""
    calendar = rule_calendar()
    assert not calendar.is_open(datetime(2029, 1, 1, 10, tzinfo=LA))
    assert calendar.is_open(datetime(2029, 1, 2, 10, tzinfo=LA))
    # Friday 28 Dec 2029, 17:00 plus two business hours: Monday 31 Dec is worked, 1 Jan is not.
    assert calendar.add(datetime(2029, 12, 28, 17, tzinfo=LA), timedelta(hours=2)) == datetime(
        2029, 12, 31, 10, tzinfo=LA
    )
    assert calendar.add(datetime(2029, 12, 31, 17, tzinfo=LA), timedelta(hours=2)) == datetime(
        2030, 1, 2, 10, tzinfo=LA
    )


def test_the_rule_is_asked_only_about_the_years_reached():
    asked: list[int] = []

    def rule(year: int) -> list[date]:
        asked.append(year)
        return us_days_off(year)

    calendar = Calendar(LA, HOURS, holiday_rule=rule)
    calendar.add(datetime(2031, 3, 2, 10, tzinfo=LA), timedelta(hours=5))
    assert sorted(asked) == [2030, 2031, 2032]
    calendar.add(datetime(2031, 6, 2, 10, tzinfo=LA), timedelta(hours=5))
    assert len(asked) == 3  # kept
    # A year of business time from 2031 runs into 2033: the span grows forward, asking each year once.
    calendar.add(datetime(2031, 6, 2, 10, tzinfo=LA), timedelta(hours=2 * 2340))
    assert sorted(asked) == sorted(set(asked)) and max(asked) >= 2034


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(instants, st.integers(0, 3 * 2340 * 3600)), min_size=1, max_size=8))
def test_a_rule_gives_what_the_same_days_given_up_front_give(steps):
    """One rule calendar reused across additions and measurements anywhere in 2026–2040, in any order (so
    its span grows forward, backward and by jumps), agrees with the fixed calendar to the microsecond."""
    ruled, fixed = rule_calendar(), fixed_calendar()
    for start, seconds in steps:
        duration = timedelta(seconds=seconds)
        assert ruled.add(start, duration) == fixed.add(start, duration)
        end = start + duration
        assert ruled.between(start, end) == fixed.between(start, end)
        assert ruled.is_open(start) == fixed.is_open(start)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_matches_the_reference_in_2026_to_2040(data):
    """Both the default calendar (Los Angeles) and a London one, against the minute-by-minute reference
    over three days anywhere in 2026–2040 (so DST changes and holidays of every year come up)."""
    zone = data.draw(st.sampled_from([LA, LONDON]))
    calendar = rule_calendar(zone)
    spec = _Spec(zone)
    start = data.draw(instants)
    end = data.draw(_in_any_zone(_instant_from(start, 3 * DAY_US)))
    minutes = reference_minutes(spec, start, end)
    expected = reference_between(minutes, start, end)
    assert calendar.between(start, end) == expected
    duration = timedelta(microseconds=data.draw(st.integers(0, expected // ONE_US)))
    assert_instant(
        calendar.add(start, duration), reference_add(minutes, start, duration) if duration else start
    )


def test_threads_extending_one_calendar_agree_with_the_fixed_one():
    """Threads share a cached calendar: extensions by one never disturb another's computation."""
    ruled, fixed = rule_calendar(), fixed_calendar()
    rng = random.Random(2029)
    work = [
        (FIRST + timedelta(seconds=rng.randrange(int((LAST - FIRST).total_seconds()))), rng.randrange(10**7))
        for _ in range(400)
    ]
    expected = [fixed.add(start, timedelta(seconds=s)) for start, s in work]
    results: dict[int, list] = defaultdict(list)

    def run(offset: int) -> None:
        for index in range(offset, len(work), 4):
            start, seconds = work[index]
            results[offset].append((index, ruled.add(start, timedelta(seconds=seconds))))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    got = dict(pair for pairs in results.values() for pair in pairs)
    assert [got[index] for index in range(len(work))] == expected


def test_fixed_days_and_a_rule_count_together():
    """A fixed day off (added by hand) counts beside the rule's."""
    extra = date(2033, 3, 15)  # a Tuesday
    calendar = Calendar(LA, HOURS, [extra], holiday_rule=us_days_off)
    assert not calendar.is_open(datetime(2033, 3, 15, 10, tzinfo=LA))
    assert calendar.add(datetime(2033, 3, 14, 17, tzinfo=LA), timedelta(hours=2)) == datetime(
        2033, 3, 16, 10, tzinfo=LA
    )
