"""The shipped defaults (sla/migrations/0002_shipped_defaults.py) against DESIGN.md: the response-target
chart, the Pacific business calendar with its US holidays, and the one-minute SLA sweep."""

from __future__ import annotations

import calendar as std_calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from sla.calendars import HolidayRule, default_calendar, response_target
from sla.models import BusinessCalendar, Clock, Holiday, Metric, ResponseTarget
from tickets.models import SEVERITY_DEFINITIONS

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
BUSINESS = Clock.BUSINESS
ALWAYS = Clock.ALWAYS

# DESIGN.md, "Severities and the response-target chart": one business day is 540 business minutes.
# severity: (first response, update cadence, resolution) as (minutes, clock), None where the chart has "—".
EXPECTED_CHART = {
    "S1": ((30, ALWAYS), (240, BUSINESS), (540, BUSINESS)),  # 30 min 24/7, 4 business hours, 1 day
    "S2": ((240, BUSINESS), (540, BUSINESS), (1620, BUSINESS)),  # 4 business hours, 1 day, 3 days
    "S3": ((540, BUSINESS), None, (5400, BUSINESS)),  # 1 business day, —, 10 business days
    "S4": ((1620, BUSINESS), None, None),  # 3 business days, —, —
    "S5": ((2700, BUSINESS), None, None),  # 5 business days, —, —
}


def _as_chart(row: ResponseTarget):
    def pair(minutes, clock):
        return None if minutes is None else (minutes, clock)

    return (
        pair(row.first_response_minutes, row.first_response_clock),
        pair(row.update_minutes, row.update_clock),
        pair(row.resolution_minutes, row.resolution_clock),
    )


def test_the_chart_has_one_row_per_severity_exactly_as_designed():
    rows = {row.severity: row for row in ResponseTarget.objects.all()}
    assert {severity: _as_chart(row) for severity, row in rows.items()} == EXPECTED_CHART
    assert {row.warn_at_percent for row in rows.values()} == {75}
    # The meanings customers see are the domain's definitions.
    assert {severity: row.definition for severity, row in rows.items()} == {
        str(severity): text for severity, text in SEVERITY_DEFINITIONS.items()
    }


@pytest.mark.parametrize("severity", list(EXPECTED_CHART))
def test_target_reports_each_metric_as_a_duration_and_clock(severity):
    row = response_target(severity)
    expected = dict(zip(Metric.values, EXPECTED_CHART[severity], strict=True))
    for metric, minutes_and_clock in expected.items():
        if minutes_and_clock is None:
            assert row.target(metric) is None
        else:
            minutes, clock = minutes_and_clock
            assert row.target(metric) == (timedelta(minutes=minutes), clock)


def test_the_default_calendar_is_weekdays_nine_to_six_pacific():
    calendar = BusinessCalendar.objects.get(is_default=True)
    assert BusinessCalendar.objects.filter(is_default=True).count() == 1
    assert calendar.timezone == "America/Los_Angeles"
    hours = {(h.weekday, h.start, h.end) for h in calendar.hours.all()}
    assert hours == {(weekday, time(9), time(18)) for weekday in range(5)}  # Monday 0 … Friday 4


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0 = Monday) of the month; n = -1 for the last."""
    days = [d for d in std_calendar.Calendar().itermonthdates(year, month) if d.month == month]
    matching = [d for d in days if d.weekday() == weekday]
    return matching[n if n < 0 else n - 1]


def _observed(day: date) -> date:
    """Federal rule: a Saturday holiday is observed the Friday before, a Sunday one the Monday after."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _us_federal_holidays(year: int) -> set[date]:
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return {
        _observed(date(year, 1, 1)),  # New Year's Day (2028's is observed on Friday 2027-12-31)
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 6, 19)),  # Juneteenth
        _observed(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _observed(date(year, 11, 11)),  # Veterans Day
        thanksgiving,
        _observed(date(year, 12, 25)),  # Christmas Day
        thanksgiving + timedelta(days=1),  # the day after Thanksgiving (company holiday)
    }


def _weekdays_off(year: int) -> set[date]:
    """The default calendar's days off in `year` that fall on a business day (a holiday on a weekend is
    listed by its rule too, but removes no business time)."""
    row = BusinessCalendar.objects.get(is_default=True)
    return {day for day, *_ in HolidayRule.of(row).days_off(year) if day.weekday() < 5}


def test_the_default_calendar_has_the_us_holidays_every_year():
    """2026–2028 as shipped, and every later year by the same rule (the table used to end in 2028)."""
    for year in range(2026, 2041):
        expected = {day for day in _us_federal_holidays(year) if day.year == year}
        if _observed(date(year + 1, 1, 1)).year == year:  # next New Year's Day observed on 31 December
            expected.add(_observed(date(year + 1, 1, 1)))
        assert _weekdays_off(year) == expected, year
    # Spot checks written out by hand.
    assert {
        date(2026, 11, 26),  # Thanksgiving
        date(2026, 11, 27),  # the day after
        date(2027, 11, 26),  # the day after Thanksgiving 2027
        date(2028, 11, 24),  # the day after Thanksgiving 2028
        date(2026, 7, 3),  # Independence Day 2026 falls on a Saturday
        date(2027, 12, 24),  # Christmas 2027 falls on a Saturday
        date(2027, 12, 31),  # New Year's Day 2028 falls on a Saturday
        date(2028, 11, 10),  # Veterans Day 2028 falls on a Saturday
        date(2029, 1, 1),  # New Year's Day 2029: the first day the hand-written table missed
        date(2033, 12, 26),  # Christmas 2033 falls on a Sunday
    } <= set().union(*(_weekdays_off(year) for year in range(2026, 2041)))


def test_the_shipped_table_became_the_rule_and_days_added_by_hand_stay():
    row = BusinessCalendar.objects.get(is_default=True)
    assert (row.holiday_country, row.holiday_subdivision, row.holiday_extras) == (
        "US",
        "",
        ["day_after_thanksgiving"],
    )
    assert not Holiday.objects.filter(calendar=row).exists()  # the rule reproduces every shipped row


def test_the_cached_calendar_counts_the_holidays():
    calendar = default_calendar()
    assert not calendar.is_open(datetime(2026, 11, 27, 10, tzinfo=LA))  # day after Thanksgiving
    assert not calendar.is_open(datetime(2026, 11, 30, 8, 59, tzinfo=LA))
    assert calendar.is_open(datetime(2026, 11, 30, 9, tzinfo=LA))
    assert not calendar.is_open(datetime(2026, 11, 30, 18, tzinfo=LA))  # [09:00, 18:00)


def test_the_sla_sweep_runs_every_minute():
    task = PeriodicTask.objects.get(name="SLA sweep")
    assert task.task == "sla.tasks.sweep"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (60, IntervalSchedule.SECONDS)

    from sla.tasks import sweep

    assert sweep.name == "sla.tasks.sweep"
