"""Business-time arithmetic (sla/business_time.py): hand-checked examples, properties over random
calendars, and a comparison with a slow minute-by-minute reference. No database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.business_time import Calendar

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
KOLKATA = ZoneInfo("Asia/Kolkata")

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
ONE_US = timedelta(microseconds=1)
BUSINESS_DAY = timedelta(minutes=540)

US_HOLIDAYS_2026 = [
    date(2026, 1, 1),  # New Year's Day
    date(2026, 1, 19),  # Martin Luther King Jr. Day
    date(2026, 2, 16),  # Presidents' Day
    date(2026, 5, 25),  # Memorial Day
    date(2026, 6, 19),  # Juneteenth
    date(2026, 7, 3),  # Independence Day (observed: Jul 4 is a Saturday)
    date(2026, 9, 7),  # Labor Day
    date(2026, 10, 12),  # Columbus Day
    date(2026, 11, 11),  # Veterans Day
    date(2026, 11, 26),  # Thanksgiving
    date(2026, 11, 27),  # the day after Thanksgiving
    date(2026, 12, 25),  # Christmas
]

DEFAULT = Calendar(LA, [(weekday, time(9), time(18)) for weekday in range(5)], US_HOLIDAYS_2026)


def la(*args: int) -> datetime:
    """A wall-clock time in America/Los_Angeles."""
    return datetime(*args, tzinfo=LA)


def assert_instant(actual: datetime, expected: datetime) -> None:
    """Same instant, compared in UTC (an aware datetime in a DST fold never equals one in another zone)."""
    assert actual.astimezone(UTC) == expected.astimezone(UTC), (
        f"{actual.astimezone(expected.tzinfo)} != {expected}"
    )


# --- hand-checked examples on the default calendar (Mon–Fri 09:00–18:00 Los Angeles) ------------------


def test_after_six_pm_counts_from_the_next_opening():
    # Mon 2026-04-13 19:30 is after closing: counting starts Tue 09:00, and 4 hours later is Tue 13:00.
    start = la(2026, 4, 13, 19, 30)
    due = DEFAULT.add(start, 4 * HOUR)
    assert_instant(due, la(2026, 4, 14, 13, 0))
    assert DEFAULT.between(start, due) == 4 * HOUR


def test_friday_evening_plus_one_business_day():
    # Fri 2026-04-17 19:00: Saturday and Sunday are closed, so 540 minutes fill Mon 09:00–18:00 exactly.
    start = la(2026, 4, 17, 19, 0)
    due = DEFAULT.add(start, BUSINESS_DAY)
    assert_instant(due, la(2026, 4, 20, 18, 0))
    assert DEFAULT.between(start, due) == BUSINESS_DAY


def test_weekend_start():
    # Sat 2026-04-18 11:00 is closed; counting starts Mon 2026-04-20 09:00, so 3 hours end at 12:00.
    start = la(2026, 4, 18, 11, 0)
    assert_instant(DEFAULT.add(start, 3 * HOUR), la(2026, 4, 20, 12, 0))
    assert DEFAULT.between(start, la(2026, 4, 20, 12, 0)) == 3 * HOUR
    # The whole weekend counts nothing.
    assert DEFAULT.between(la(2026, 4, 17, 18, 0), la(2026, 4, 20, 9, 0)) == timedelta(0)


def test_holiday():
    # Wed 2026-11-25 17:00: one hour on Wednesday (17:00–18:00), Thu 26 (Thanksgiving) and Fri 27 are
    # holidays, Sat/Sun closed, so the second hour is Mon 2026-11-30 09:00–10:00.
    start = la(2026, 11, 25, 17, 0)
    due = DEFAULT.add(start, 2 * HOUR)
    assert_instant(due, la(2026, 11, 30, 10, 0))
    assert DEFAULT.between(start, due) == 2 * HOUR
    assert not DEFAULT.is_open(la(2026, 11, 26, 12, 0))
    assert not DEFAULT.is_open(la(2026, 11, 27, 12, 0))
    assert DEFAULT.is_open(la(2026, 11, 30, 9, 0))


def test_spring_forward_2026():
    # Fri 2026-03-06 17:00 PST: one hour on Friday; Sunday 2026-03-08 at 02:00 clocks go to 03:00 PDT;
    # the second hour is Mon 2026-03-09 09:00–10:00 local, now PDT (UTC−07:00).
    start = la(2026, 3, 6, 17, 0)
    due = DEFAULT.add(start, 2 * HOUR)
    assert_instant(due, la(2026, 3, 9, 10, 0))
    local = due.astimezone(LA)
    assert (local.hour, local.minute) == (10, 0)
    assert local.utcoffset() == timedelta(hours=-7)
    # Real elapsed time is an hour shorter than the wall-clock difference (Fri 17:00 → Mon 10:00 = 65 h).
    assert due - start == timedelta(hours=64)
    assert DEFAULT.between(start, due) == 2 * HOUR


def test_fall_back_2026():
    # Fri 2026-10-30 17:00 PDT: one hour on Friday; Sunday 2026-11-01 at 02:00 PDT clocks go back to
    # 01:00 PST; the second hour is Mon 2026-11-02 09:00–10:00 local, now PST (UTC−08:00).
    start = la(2026, 10, 30, 17, 0)
    due = DEFAULT.add(start, 2 * HOUR)
    assert_instant(due, la(2026, 11, 2, 10, 0))
    local = due.astimezone(LA)
    assert (local.hour, local.minute) == (10, 0)
    assert local.utcoffset() == timedelta(hours=-8)
    assert due - start == timedelta(hours=66)
    assert DEFAULT.between(start, due) == 2 * HOUR


def test_exactly_at_closing_starts_at_the_next_opening():
    # Mon 2026-04-13 18:00:00 is outside [09:00, 18:00): the minute is Tue 09:00–09:01.
    start = la(2026, 4, 13, 18, 0, 0)
    assert not DEFAULT.is_open(start)
    assert DEFAULT.is_open(start - ONE_US)
    assert_instant(DEFAULT.add(start, MINUTE), la(2026, 4, 14, 9, 1))
    assert DEFAULT.between(start, la(2026, 4, 14, 9, 1)) == MINUTE
    # Adding nothing stays put, even when closed.
    assert_instant(DEFAULT.add(start, timedelta(0)), start)


def test_exactly_at_opening_a_full_day_ends_at_closing():
    # Mon 2026-04-13 09:00:00 + 540 minutes = Mon 18:00:00, the window's (exclusive) end, not Tue 09:00.
    start = la(2026, 4, 13, 9, 0, 0)
    assert DEFAULT.is_open(start)
    assert not DEFAULT.is_open(start - ONE_US)
    due = DEFAULT.add(start, BUSINESS_DAY)
    assert_instant(due, la(2026, 4, 13, 18, 0, 0))
    assert DEFAULT.between(start, due) == BUSINESS_DAY


def test_last_second_of_the_day():
    # Mon 17:59:59 + 1 s reaches the target exactly at 18:00:00.
    start = la(2026, 4, 13, 17, 59, 59)
    assert_instant(DEFAULT.add(start, timedelta(seconds=1)), la(2026, 4, 13, 18, 0, 0))
    # One more microsecond needs the next opening: Tue 09:00:00.000001.
    assert_instant(DEFAULT.add(start, timedelta(seconds=1, microseconds=1)), la(2026, 4, 14, 9, 0, 0, 1))


def test_seconds_and_microseconds_are_kept():
    # Mon 10:15:42.123456 leaves 7:44:17.876544 on Monday; 8:00:01.000010 − 7:44:17.876544 = 0:15:43.123466,
    # so the target is Tue 09:15:43.123466.
    start = la(2026, 4, 13, 10, 15, 42, 123456)
    duration = timedelta(hours=8, seconds=1, microseconds=10)
    due = DEFAULT.add(start, duration)
    assert_instant(due, la(2026, 4, 14, 9, 15, 43, 123466))
    assert DEFAULT.between(start, due) == duration


def test_pause_across_a_weekend():
    # Fri 2026-04-17 17:00 start; 30 minutes count (17:00–17:30), then a pause until Mon 10:00; the
    # remaining 1.5 hours run Mon 10:00–11:30. (Without the pause: Fri 1 h + Mon 09:00–10:00.)
    start = la(2026, 4, 17, 17, 0)
    pauses = [(la(2026, 4, 17, 17, 30), la(2026, 4, 20, 10, 0))]
    due = DEFAULT.add(start, 2 * HOUR, pauses)
    assert_instant(due, la(2026, 4, 20, 11, 30))
    assert DEFAULT.between(start, due, pauses) == 2 * HOUR
    assert DEFAULT.between(start, due) == timedelta(hours=3, minutes=30)
    assert_instant(DEFAULT.add(start, 2 * HOUR), la(2026, 4, 20, 10, 0))


def test_pauses_in_any_order_and_overlapping():
    # Mon 2026-04-13 09:00; pauses 10:00–11:00 and 10:30–12:00 merge into 10:00–12:00, and one before the
    # start (08:00–09:30) delays the start to 09:30: 30 min (09:30–10:00), then 12:00 + 1.5 h = 13:30.
    start = la(2026, 4, 13, 9, 0)
    pauses = [
        (la(2026, 4, 13, 10, 30), la(2026, 4, 13, 12, 0)),
        (la(2026, 4, 13, 8, 0), la(2026, 4, 13, 9, 30)),
        (la(2026, 4, 13, 10, 0), la(2026, 4, 13, 11, 0)),
    ]
    due = DEFAULT.add(start, 2 * HOUR, pauses)
    assert_instant(due, la(2026, 4, 13, 13, 30))
    assert DEFAULT.between(start, due, pauses) == 2 * HOUR


def test_open_ended_pause():
    # Mon 2026-04-13 09:00 with a pause from 10:00 that never ends: only one hour can ever elapse.
    start = la(2026, 4, 13, 9, 0)
    pauses = [(la(2026, 4, 13, 10, 0), None)]
    with pytest.raises(ValueError):
        DEFAULT.add(start, 2 * HOUR, pauses)
    # Reaching the target exactly at (or before) the pause's start is fine.
    assert_instant(DEFAULT.add(start, HOUR, pauses), la(2026, 4, 13, 10, 0))
    assert_instant(DEFAULT.add(start, 30 * MINUTE, pauses), la(2026, 4, 13, 9, 30))
    # between() stops counting at the pause.
    assert DEFAULT.between(start, la(2026, 4, 20, 12, 0), pauses) == HOUR
    # Starting inside an open pause, nothing ever elapses...
    with pytest.raises(ValueError):
        DEFAULT.add(la(2026, 4, 13, 11, 0), MINUTE, pauses)
    # ...but a zero duration has elapsed at once, paused or not (the earliest such instant is the start).
    assert_instant(DEFAULT.add(la(2026, 4, 13, 11, 0), timedelta(0), pauses), la(2026, 4, 13, 11, 0))
    closed = [(la(2026, 4, 13, 10, 0), la(2026, 4, 14, 10, 0))]
    assert_instant(DEFAULT.add(la(2026, 4, 13, 11, 0), timedelta(0), closed), la(2026, 4, 13, 11, 0))


def test_several_windows_per_weekday():
    # Mon–Fri 09:00–12:00 and 13:00–18:00: Mon 11:30 + 1 h = 30 min before lunch + 30 min after = 13:30.
    cal = Calendar(
        LA,
        [(d, time(9), time(12)) for d in range(5)] + [(d, time(13), time(18)) for d in range(5)],
    )
    start = la(2026, 4, 13, 11, 30)
    due = cal.add(start, HOUR)
    assert_instant(due, la(2026, 4, 13, 13, 30))
    assert cal.between(start, due) == HOUR
    assert not cal.is_open(la(2026, 4, 13, 12, 30))
    # A full day is 8 hours: Mon 09:00 + 8 h ends Mon 18:00.
    assert_instant(cal.add(la(2026, 4, 13, 9, 0), 8 * HOUR), la(2026, 4, 13, 18, 0))
    # Exactly 3 hours from 09:00 ends at 12:00 (the end of the first window), not 13:00.
    assert_instant(cal.add(la(2026, 4, 13, 9, 0), 3 * HOUR), la(2026, 4, 13, 12, 0))


def test_overlapping_windows_are_merged():
    # 09:00–12:00, 11:00–14:00 and 13:00–18:00 (given out of order) are 09:00–18:00: 9 hours, not 11.
    cal = Calendar(LA, [(0, time(13), time(18)), (0, time(9), time(12)), (0, time(11), time(14))])
    assert cal.between(la(2026, 4, 13, 0, 0), la(2026, 4, 14, 0, 0)) == 9 * HOUR
    assert_instant(cal.add(la(2026, 4, 13, 9, 0), 9 * HOUR), la(2026, 4, 13, 18, 0))
    # Mon 11:30 + 2 h = 13:30 (no double counting in the overlaps).
    assert_instant(cal.add(la(2026, 4, 13, 11, 30), 2 * HOUR), la(2026, 4, 13, 13, 30))
    # The next Monday 09:00 follows the end on Monday 18:00.
    assert_instant(cal.add(la(2026, 4, 13, 9, 0), 9 * HOUR + MINUTE), la(2026, 4, 20, 9, 1))
    # Touching windows (09:00–12:00 and 12:00–18:00) also make one.
    touching = Calendar(LA, [(0, time(9), time(12)), (0, time(12), time(18))])
    assert_instant(touching.add(la(2026, 4, 13, 11, 0), 2 * HOUR), la(2026, 4, 13, 13, 0))


def test_between_examples_and_negative():
    # The cases above, measured with between().
    assert DEFAULT.between(la(2026, 4, 13, 19, 30), la(2026, 4, 14, 13, 0)) == 4 * HOUR
    assert DEFAULT.between(la(2026, 4, 17, 19, 0), la(2026, 4, 20, 18, 0)) == BUSINESS_DAY
    assert DEFAULT.between(la(2026, 11, 25, 17, 0), la(2026, 11, 30, 10, 0)) == 2 * HOUR
    assert DEFAULT.between(la(2026, 3, 6, 17, 0), la(2026, 3, 9, 10, 0)) == 2 * HOUR
    assert DEFAULT.between(la(2026, 10, 30, 17, 0), la(2026, 11, 2, 10, 0)) == 2 * HOUR
    # A full week Mon 00:00 → next Mon 00:00 is 5 × 9 h; the Thanksgiving week loses two days.
    assert DEFAULT.between(la(2026, 4, 13), la(2026, 4, 20)) == 45 * HOUR
    assert DEFAULT.between(la(2026, 11, 23), la(2026, 11, 30)) == 27 * HOUR
    # end < start: the negative of the forward measure, pauses included.
    assert DEFAULT.between(la(2026, 4, 14, 13, 0), la(2026, 4, 13, 19, 30)) == -4 * HOUR
    pauses = [(la(2026, 4, 17, 17, 30), la(2026, 4, 20, 10, 0))]
    assert DEFAULT.between(la(2026, 4, 20, 11, 30), la(2026, 4, 17, 17, 0), pauses) == -2 * HOUR
    # Equal instants: zero.
    assert DEFAULT.between(la(2026, 4, 13, 12, 0), la(2026, 4, 13, 12, 0)) == timedelta(0)
    # Inputs in other zones (and fixed offsets) are the same instants.
    assert (
        DEFAULT.between(
            datetime(2026, 4, 13, 16, 0, tzinfo=UTC),  # 09:00 PDT
            datetime(2026, 4, 13, 12, 0, tzinfo=timezone(timedelta(hours=-7))),  # 12:00 PDT
        )
        == 3 * HOUR
    )


def test_always_calendar():
    always = Calendar.always()
    # S1 acknowledgement, 30 minutes 24/7: Sun 2026-04-19 03:00 → 03:30 the same Sunday.
    assert_instant(always.add(la(2026, 4, 19, 3, 0), 30 * MINUTE), la(2026, 4, 19, 3, 30))
    # Across the DST gap: 2026-03-08 01:45 PST (09:45 UTC) + 30 min = 10:15 UTC = 03:15 PDT.
    due = always.add(la(2026, 3, 8, 1, 45), 30 * MINUTE)
    assert due.astimezone(UTC) == datetime(2026, 3, 8, 10, 15, tzinfo=UTC)
    local = due.astimezone(LA)
    assert (local.hour, local.minute, local.utcoffset()) == (3, 15, timedelta(hours=-7))
    # Across the fall-back: 2026-11-01 01:45 PDT + 30 min = 01:15 PST (the second 01:15).
    due = always.add(la(2026, 11, 1, 1, 45), 30 * MINUTE)
    local = due.astimezone(LA)
    assert (local.hour, local.minute, local.utcoffset()) == (1, 15, timedelta(hours=-8))
    assert always.between(la(2026, 4, 19, 3, 0), la(2026, 4, 19, 3, 30)) == 30 * MINUTE
    assert always.is_open(la(2026, 12, 25, 3, 0))


def test_calendar_with_windows_straddling_the_dst_change():
    # 00:00–24:00 every day in Los Angeles: business time is real elapsed time, so the local day of the
    # spring change is 23 hours and the day of the fall change 25 hours.
    cal = Calendar(LA, [(weekday, time(0), time(0)) for weekday in range(7)])
    assert cal.between(la(2026, 3, 8), la(2026, 3, 9)) == timedelta(hours=23)
    assert cal.between(la(2026, 11, 1), la(2026, 11, 2)) == timedelta(hours=25)
    assert cal.between(la(2026, 4, 19), la(2026, 4, 20)) == timedelta(hours=24)
    # 24 real hours from 2026-03-08 00:00 PST land on 2026-03-09 01:00 PDT.
    due = cal.add(la(2026, 3, 8), timedelta(hours=24))
    assert_instant(due, la(2026, 3, 9, 1, 0))
    assert due.astimezone(LA).utcoffset() == timedelta(hours=-7)
    # 24 real hours from 2026-11-01 00:00 PDT land on 2026-11-01 23:00 PST (that local day has 25 hours).
    assert_instant(cal.add(la(2026, 11, 1), timedelta(hours=24)), la(2026, 11, 1, 23, 0))
    # A night shift 00:00–03:00 on Sundays: the spring-change night loses its missing hour (2 h), the
    # fall-change night counts the repeated hour twice (4 h).
    night = Calendar(LA, [(6, time(0), time(3))])
    assert night.between(la(2026, 3, 8), la(2026, 3, 9)) == 2 * HOUR
    # At the change itself (10:00 UTC) the local time is already 03:00 PDT, closed; just before, 01:59 PST.
    assert not night.is_open(datetime(2026, 3, 8, 10, 0, tzinfo=UTC))
    assert night.is_open(datetime(2026, 3, 8, 10, 0, tzinfo=UTC) - ONE_US)
    assert night.between(la(2026, 11, 1), la(2026, 11, 2)) == 4 * HOUR
    # 01:30 PST + 1 h on the spring night: 30 min to 02:00 PST, which is 03:00 PDT, the window's end; the
    # other 30 min wait for the next Sunday (2026-03-15 00:30 PDT).
    assert_instant(night.add(la(2026, 3, 8, 1, 30), HOUR), la(2026, 3, 15, 0, 30))


def test_europe_london():
    # Mon–Fri 09:00–17:30 London. Fri 2026-03-27 17:00 GMT: 30 min on Friday; BST begins Sunday 29 March;
    # the other 30 min are Mon 2026-03-30 09:00–09:30 BST (UTC+01:00), i.e. 08:30 UTC.
    cal = Calendar(LONDON, [(d, time(9), time(17, 30)) for d in range(5)], [date(2026, 4, 3)])
    due = cal.add(datetime(2026, 3, 27, 17, 0, tzinfo=LONDON), HOUR)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    assert due.astimezone(LONDON).utcoffset() == HOUR
    # Good Friday (2026-04-03) is a holiday here: Thu 17:00 + 1 h → Mon 2026-04-06 09:30 BST.
    due = cal.add(datetime(2026, 4, 2, 17, 0, tzinfo=LONDON), HOUR)
    assert due.astimezone(UTC) == datetime(2026, 4, 6, 8, 30, tzinfo=UTC)


def test_asia_kolkata():
    # Mon–Sat 10:00–19:00 in India (UTC+05:30, no DST). Mon 2026-04-13 18:30 IST + 1 h: 30 min on Monday,
    # then Tue 10:00–10:30 IST, which is 05:00 UTC.
    cal = Calendar(KOLKATA, [(d, time(10), time(19)) for d in range(6)])
    due = cal.add(datetime(2026, 4, 13, 18, 30, tzinfo=KOLKATA), HOUR)
    assert due.astimezone(UTC) == datetime(2026, 4, 14, 5, 0, tzinfo=UTC)
    local = due.astimezone(KOLKATA)
    assert (local.hour, local.minute, local.utcoffset()) == (10, 30, timedelta(hours=5, minutes=30))
    # Sat 18:00 IST + 2 h: 1 h on Saturday, Sunday closed, Mon 10:00–11:00.
    due = cal.add(datetime(2026, 4, 18, 18, 0, tzinfo=KOLKATA), 2 * HOUR)
    assert due.astimezone(KOLKATA).replace(tzinfo=None) == datetime(2026, 4, 20, 11, 0)
    # The window 10:00–19:00 IST is 04:30–13:30 UTC.
    assert cal.is_open(datetime(2026, 4, 14, 4, 30, tzinfo=UTC))
    assert not cal.is_open(datetime(2026, 4, 14, 4, 29, 59, tzinfo=UTC))
    assert not cal.is_open(datetime(2026, 4, 14, 13, 30, tzinfo=UTC))


def test_naive_datetimes_are_rejected():
    naive = datetime(2026, 4, 13, 12, 0)
    aware = la(2026, 4, 13, 12, 0)
    with pytest.raises(ValueError):
        DEFAULT.add(naive, HOUR)
    with pytest.raises(ValueError):
        DEFAULT.between(naive, aware)
    with pytest.raises(ValueError):
        DEFAULT.between(aware, naive)
    with pytest.raises(ValueError):
        DEFAULT.is_open(naive)
    with pytest.raises(ValueError):
        DEFAULT.add(aware, HOUR, [(naive, None)])
    with pytest.raises(ValueError):
        DEFAULT.between(aware, aware + HOUR, [(aware, naive)])


def test_negative_duration_is_rejected():
    with pytest.raises(ValueError):
        DEFAULT.add(la(2026, 4, 13, 12, 0), -ONE_US)


def test_calendar_without_hours_is_rejected():
    with pytest.raises(ValueError):
        Calendar(LA, [])


def test_invalid_windows_are_rejected():
    with pytest.raises(ValueError):
        Calendar(LA, [(0, time(18), time(9))])  # ends before it starts
    with pytest.raises(ValueError):
        Calendar(LA, [(0, time(9), time(9))])  # empty
    with pytest.raises(ValueError):
        Calendar(LA, [(7, time(9), time(18))])  # no eighth weekday
    with pytest.raises(ValueError):
        Calendar(LA, [(-1, time(9), time(18))])


# --- random calendars ------------------------------------------------------------------------------

ZONES = [
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",  # DST moves the clock by 30 minutes
    "Asia/Kolkata",  # +05:30, no DST
    "UTC",
    "America/Santiago",  # changes at midnight local time
    "Pacific/Chatham",  # +12:45 / +13:45
]
YEARS_START = datetime(2025, 1, 1, tzinfo=UTC)
YEARS_END = datetime(2029, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


def _dst_days() -> list[date]:
    """UTC days on which any of the zones changes its offset in 2025–2028 (a plain daily scan)."""
    days = set()
    for name in ZONES:
        zone = ZoneInfo(name)
        day = YEARS_START - timedelta(days=1)
        while day < YEARS_END:
            if day.astimezone(zone).utcoffset() != (day + timedelta(days=1)).astimezone(zone).utcoffset():
                days.add(day.date())
            day += timedelta(days=1)
    return sorted(days)


DST_DAYS = _dst_days()


def _time(minute: int) -> time:
    return time(minute // 60 % 24, minute % 60)  # 1440 (24:00) is written time(0), as the module expects


@dataclass(frozen=True)
class Spec:
    """A calendar as plain data, read directly by the reference implementation."""

    zone: str
    windows: tuple[tuple[int, int, int], ...]  # (weekday, start minute, end minute ≤ 1440)
    holidays: frozenset[date]

    def calendar(self) -> Calendar:
        return Calendar(self.zone, [(wd, _time(s), _time(e)) for wd, s, e in self.windows], self.holidays)

    def with_holidays(self, extra: set[date]) -> Spec:
        return Spec(self.zone, self.windows, self.holidays | extra)

    @cached_property
    def week_us(self) -> int:
        minutes = {(wd, m) for wd, s, e in self.windows for m in range(s, e)}
        return len(minutes) * 60_000_000

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(ZoneInfo(self.zone))
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(wd == local.weekday() and s <= minute < e for wd, s, e in self.windows)


windows_strategy = st.one_of(
    # anywhere in the day, at minute granularity
    st.integers(0, 1439).flatmap(lambda s: st.tuples(st.just(s), st.integers(s + 1, 1440))),
    # containing 00:00–03:00, so that DST changes at 00:00, 01:00, 02:00 fall inside
    st.tuples(st.integers(0, 60), st.integers(180, 1440)),
    # short night windows around the changes
    st.integers(0, 179).flatmap(lambda s: st.tuples(st.just(s), st.integers(s + 1, min(s + 90, 1440)))),
    st.just((0, 1440)),
)


@st.composite
def specs(draw) -> Spec:
    zone = draw(st.sampled_from(ZONES))
    weekdays = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    windows = tuple(
        (weekday, start, end)
        for weekday in sorted(weekdays)
        for start, end in draw(st.lists(windows_strategy, min_size=1, max_size=3))
    )
    holidays = draw(st.sets(st.dates(date(2024, 12, 1), date(2029, 2, 1)), max_size=40))
    # Holidays on and around DST changes, where mistakes would hide.
    holidays |= draw(
        st.sets(
            st.tuples(st.sampled_from(DST_DAYS), st.integers(-2, 2)).map(lambda p: p[0] + timedelta(p[1])),
            max_size=6,
        )
    )
    return Spec(zone, windows, frozenset(holidays))


def _instant_from(base: datetime, span_us: int) -> st.SearchStrategy[datetime]:
    """A UTC instant in [base, base + span_us µs], counted in real time."""
    base = base.astimezone(UTC)
    return st.one_of(
        st.integers(0, span_us),
        st.integers(0, span_us // 60_000_000).map(lambda m: m * 60_000_000),  # on a whole minute
    ).map(lambda us: base + timedelta(microseconds=us))


def _in_any_zone(instant: st.SearchStrategy[datetime]) -> st.SearchStrategy[datetime]:
    """The same instant expressed in a random zone (or left in UTC). Arithmetic and comparisons between
    such values go through UTC in these tests: within one zone Python compares and subtracts wall times."""
    zones = st.sampled_from([*ZONES, None])
    return st.tuples(instant, zones).map(lambda p: p[0] if p[1] is None else p[0].astimezone(ZoneInfo(p[1])))


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


any_instant = _instant_from(YEARS_START, (YEARS_END - YEARS_START) // ONE_US - 1)
near_dst_instant = st.sampled_from(DST_DAYS).flatmap(
    lambda day: _instant_from(
        datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=2), 5 * DAY_US
    )
)
utc_instants = st.one_of(any_instant, near_dst_instant)


def instants() -> st.SearchStrategy[datetime]:
    """An aware instant in 2025–2028, expressed in a random zone."""
    return _in_any_zone(utc_instants)


def durations(spec: Spec) -> st.SearchStrategy[timedelta]:
    """Business durations up to a year of this calendar's business time (52 of its weeks)."""
    week = spec.week_us
    return st.one_of(
        st.integers(0, 52 * week),
        st.integers(0, week),
        st.integers(0, 52 * week // 60_000_000).map(lambda m: m * 60_000_000),
        st.integers(0, 3),
    ).map(lambda us: timedelta(microseconds=us))


@st.composite
def pause_lists(draw, start: datetime, open_ended: bool = False) -> list[tuple[datetime, datetime | None]]:
    pauses: list[tuple[datetime, datetime | None]] = []
    for _ in range(draw(st.integers(0, 3))):
        begin = draw(_instant_from(_utc(start) - timedelta(days=2), 40 * DAY_US))
        end = draw(_in_any_zone(_instant_from(begin, 10 * DAY_US)))
        pauses.append((draw(_in_any_zone(st.just(begin))), end))
    if open_ended and draw(st.booleans()):
        pauses.append((draw(_in_any_zone(_instant_from(_utc(start) - timedelta(days=1), 60 * DAY_US))), None))
    return pauses


PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.data())
def test_round_trip(data):
    spec = data.draw(specs())
    cal = spec.calendar()
    start = data.draw(instants())
    duration = data.draw(durations(spec))
    due = cal.add(start, duration)
    assert due >= start
    assert cal.between(start, due) == duration
    if duration > timedelta(0):
        # The earliest such instant: one microsecond earlier the target is not reached, and that last
        # microsecond was inside a window (so the result is inside a window or exactly at its end).
        assert cal.between(start, due - ONE_US) == duration - ONE_US
        assert cal.is_open(due) or cal.is_open(due - ONE_US)
        assert cal.is_open(due - ONE_US)
        last = due - ONE_US
        assert last.astimezone(ZoneInfo(spec.zone)).date() not in spec.holidays
        assert spec.is_open(last)
    else:
        assert_instant(due, start)


@PROPERTY
@given(st.data())
def test_round_trip_with_pauses(data):
    spec = data.draw(specs())
    cal = spec.calendar()
    start = data.draw(instants())
    duration = data.draw(durations(spec))
    pauses = data.draw(pause_lists(start))
    due = cal.add(start, duration, pauses)
    assert due >= start
    assert cal.between(start, due, pauses) == duration
    if duration > timedelta(0):
        assert cal.between(start, due - ONE_US, pauses) == duration - ONE_US
        assert cal.is_open(due - ONE_US)
        assert not any(b <= due - ONE_US < e for b, e in pauses)
    # Pausing never makes a target earlier.
    assert due >= cal.add(start, duration)


@PROPERTY
@given(st.data())
def test_open_ended_pause_property(data):
    spec = data.draw(specs())
    cal = spec.calendar()
    start = data.draw(instants())
    duration = data.draw(durations(spec))
    pauses = data.draw(pause_lists(start, open_ended=True))
    open_starts = [b for b, e in pauses if e is None]
    horizon = min(open_starts, default=None)
    try:
        due = cal.add(start, duration, pauses)
    except ValueError:
        # Only an open pause can make a target unreachable: less business time than asked is left
        # before it starts.
        assert horizon is not None
        assert cal.between(start, max(start, horizon), pauses) < duration
    else:
        assert cal.between(start, due, pauses) == duration
        if horizon is not None and duration > timedelta(0):
            assert due <= max(start, horizon)


@PROPERTY
@given(st.data())
def test_monotonic(data):
    spec = data.draw(specs())
    cal = spec.calendar()
    a1, a2 = sorted([data.draw(instants()), data.draw(instants())], key=_utc)
    d1, d2 = sorted([data.draw(durations(spec)), data.draw(durations(spec))])
    assert cal.add(a1, d1) <= cal.add(a1, d2)
    assert cal.add(a1, d1) <= cal.add(a2, d1)
    assert cal.add(a1, d2) <= cal.add(a2, d2)
    pauses = data.draw(pause_lists(a1))
    assert cal.add(a1, d1, pauses) <= cal.add(a1, d2, pauses)


@PROPERTY
@given(st.data())
def test_between_is_additive(data):
    spec = data.draw(specs())
    cal = spec.calendar()
    a, b, c = sorted((data.draw(instants()) for _ in range(3)), key=_utc)
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)
    assert timedelta(0) <= cal.between(a, b) <= _utc(b) - _utc(a)
    assert cal.between(c, a) == -cal.between(a, c)
    pauses = data.draw(pause_lists(a))
    assert cal.between(a, c, pauses) == cal.between(a, b, pauses) + cal.between(b, c, pauses)
    assert cal.between(a, c, pauses) <= cal.between(a, c)


@PROPERTY
@given(instants(), st.integers(0, 366 * DAY_US).map(lambda us: timedelta(microseconds=us)))
def test_always_is_wall_clock_in_utc(start, duration):
    always = Calendar.always()
    utc_start = start.astimezone(UTC)
    assert always.add(utc_start, duration) == utc_start + duration
    assert always.add(start, duration) == utc_start + duration
    assert always.between(start, utc_start + duration) == duration
    assert always.is_open(start)


@PROPERTY
@given(st.sampled_from(ZONES), instants(), instants())
def test_full_day_calendar_counts_real_time(zone, a, b):
    # 00:00–24:00 every day in a zone with DST is the real clock too, across every change.
    cal = Calendar(zone, [(weekday, time(0), time(0)) for weekday in range(7)])
    assert cal.between(a, b) == _utc(b) - _utc(a)
    if _utc(a) <= _utc(b):
        assert_instant(cal.add(a, _utc(b) - _utc(a)), b)


# --- a slow reference -------------------------------------------------------------------------------
# Every zone above is a whole number of minutes from UTC and changes offset on a whole UTC minute, and the
# windows are whole minutes, so whether the calendar is open is constant over each UTC minute. The
# reference walks UTC minute by minute and asks zoneinfo for each minute's local wall time.


def reference_minutes(spec: Spec, start: datetime, end: datetime) -> list[tuple[datetime, bool]]:
    """(UTC minute, open) for every minute that meets [start, end)."""
    minute = _utc(start).replace(second=0, microsecond=0)
    end = _utc(end)
    out = []
    while minute < end:
        out.append((minute, spec.is_open(minute)))
        minute += MINUTE
    return out


def reference_between(minutes: list[tuple[datetime, bool]], start: datetime, end: datetime) -> timedelta:
    start, end = _utc(start), _utc(end)
    total = timedelta(0)
    for minute, is_open in minutes:
        lo, hi = max(minute, start), min(minute + MINUTE, end)
        if is_open and lo < hi:
            total += hi - lo
    return total


def reference_add(minutes: list[tuple[datetime, bool]], start: datetime, duration: timedelta) -> datetime:
    start = _utc(start)
    remaining = duration
    for minute, is_open in minutes:
        lo, hi = max(minute, start), minute + MINUTE
        if is_open and lo < hi:
            if remaining <= hi - lo:
                return lo + remaining
            remaining -= hi - lo
    raise AssertionError("the reference range is too short")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_matches_the_reference(data):
    spec = data.draw(specs())
    start = data.draw(instants())
    end = data.draw(_in_any_zone(_instant_from(start, 3 * DAY_US)))
    # Holidays right inside the range.
    local_day = start.astimezone(ZoneInfo(spec.zone)).date()
    extra = data.draw(st.sets(st.integers(-1, 4), max_size=3))
    spec = spec.with_holidays({local_day + timedelta(days=n) for n in extra})
    cal = spec.calendar()

    minutes = reference_minutes(spec, start, end)
    expected = reference_between(minutes, start, end)
    assert cal.between(start, end) == expected
    assert cal.between(end, start) == -expected

    # Any amount up to that total is reached where the reference reaches it.
    duration = timedelta(microseconds=data.draw(st.integers(0, expected // ONE_US)))
    assert_instant(cal.add(start, duration), reference_add(minutes, start, duration) if duration else start)

    # is_open agrees at the start of every minute in the range (DST changes happen on these instants).
    for minute, is_open in minutes:
        assert cal.is_open(minute) == is_open
