"""The chart and the default calendar as the SLA code uses them, cached per process.

Rows change rarely (staff edit them in the admin); a save or delete in this process clears the cache at
once, and other processes pick the change up within CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time as monotonic_time
from datetime import date

from django.db.models.signals import post_delete, post_save

from sla.business_time import Calendar
from sla.holiday_rules import RuleSet, split_subdivision
from sla.models import BusinessCalendar, BusinessHours, Clock, Holiday, ResponseTarget, SlaPolicy

CACHE_SECONDS = 60

_lock = threading.Lock()
_cache: dict[str, tuple[float, object]] = {}


def _cached(key: str, load):
    now = monotonic_time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    value = load()
    with _lock:
        _cache[key] = (now, value)
    return value


def clear_cache(**kwargs) -> None:
    with _lock:
        _cache.clear()


def policies() -> dict[int, SlaPolicy]:
    """Every SLA policy by id."""
    return _cached("policies", lambda: {row.pk: row for row in SlaPolicy.objects.all()})


def default_policy() -> SlaPolicy:
    """The policy of organizations that are not put on another (the default one, else the first)."""
    rows = sorted(policies().values(), key=lambda row: (not row.is_default, row.pk))
    if not rows:
        raise SlaPolicy.DoesNotExist("No SLA policy is configured; tickets need one to count on.")
    return rows[0]


def policy(policy_id: int | None) -> SlaPolicy:
    """The policy with this id; the default one for None (or a policy deleted since)."""
    found = policies().get(policy_id) if policy_id is not None else None
    return found if found is not None else default_policy()


def _charts() -> dict[int, dict[str, ResponseTarget]]:
    charts: dict[int, dict[str, ResponseTarget]] = {}
    for row in ResponseTarget.objects.all():
        charts.setdefault(row.policy_id, {})[row.severity] = row
    return charts


def chart(policy_id: int | None = None) -> dict[str, ResponseTarget]:
    """A policy's response-target chart by severity (the default policy's without an id)."""
    return _cached("charts", _charts).get(policy(policy_id).pk, {})


def response_target(severity: str, policy_id: int | None = None) -> ResponseTarget | None:
    return chart(policy_id).get(severity)


def calendars() -> dict[int, Calendar]:
    """Every business calendar by id, as the arithmetic sees it."""
    return _cached("calendars", _load_calendars)


def calendar(calendar_id: int | None = None) -> Calendar:
    """The calendar with this id; without one (or one deleted since), the default policy's."""
    found = calendars().get(calendar_id) if calendar_id is not None else None
    return found if found is not None else default_calendar()


def default_calendar() -> Calendar:
    """The calendar of the default policy (before any policy exists: the default calendar, else the first)."""
    rows = policies()
    if rows:
        found = calendars().get(default_policy().calendar_id)
        if found is not None:
            return found
    return _cached("calendar", _load_default_calendar)


def calendar_for(clock: str, calendar_id: int | None = None) -> Calendar:
    """What a clock counts on: every second for a 24x7 target, else the ticket's business calendar."""
    return Calendar.always() if clock == Clock.ALWAYS else calendar(calendar_id)


def _load_calendars() -> dict[int, Calendar]:
    hours: dict[int, list] = {}
    for row in BusinessHours.objects.all():
        hours.setdefault(row.calendar_id, []).append((row.weekday, row.start, row.end))
    holidays: dict[int, list[Holiday]] = {}
    for holiday in Holiday.objects.all():  # every calendar's in one query, not one per calendar
        holidays.setdefault(holiday.calendar_id, []).append(holiday)
    return {
        row.pk: Calendar(
            row.timezone, hours[row.pk], holiday_rule=HolidayRule.of(row, holidays.get(row.pk, []))
        )
        for row in BusinessCalendar.objects.all()
        if hours.get(row.pk)  # a calendar without hours counts nothing: the arithmetic refuses it
    }


def _load_default_calendar() -> Calendar:
    row = BusinessCalendar.objects.order_by("-is_default", "pk").first()
    if row is None:
        raise BusinessCalendar.DoesNotExist(
            "No business calendar is configured; business-hour targets need one."
        )
    return build_calendar(row)


def build_calendar(row: BusinessCalendar) -> Calendar:
    """The arithmetic's view of a calendar row: its hours, and its holidays by rule for any year with the
    dates set by hand applied on top."""
    hours = [(h.weekday, h.start, h.end) for h in BusinessHours.objects.filter(calendar=row)]
    return Calendar(row.timezone, hours, holiday_rule=HolidayRule.of(row))


class HolidayRule:
    """A calendar's days off of any year: its rule set's, plus the days added by hand, minus the days
    marked as worked. Read once from the database; python-holidays' answers are cached per year."""

    def __init__(self, rules: RuleSet, manual: dict[date, tuple[str, str, int]]):
        self.rules = rules
        self.manual = manual  # date → (kind, name, row id)

    @classmethod
    def of(cls, row: BusinessCalendar, holidays: list[Holiday] | None = None) -> HolidayRule:
        """The calendar's rule; `holidays` are its rows set by hand when the caller has read them."""
        country, subdivision = split_subdivision(row.holiday_country, row.holiday_subdivision)
        rules = RuleSet(country, subdivision, tuple(row.holiday_extras or ()))
        if holidays is None:
            holidays = list(Holiday.objects.filter(calendar=row))
        return cls(rules, {h.date: (h.kind, h.name, h.pk) for h in holidays})

    def __call__(self, year: int) -> list[date]:
        return [day for day, _name, _source, _id in self.days_off(year)]

    def days_off(self, year: int) -> list[tuple[date, str, str, int | None]]:
        """(date, name, source, holiday row id) of each day off in `year`, by date; source is "rule" or
        "added" (a day added by hand, with its row's id)."""
        days = {day: (name, "rule", None) for day, name in self.rules.days(year).items()}
        for day, (kind, name, pk) in self.manual.items():
            if day.year != year:
                continue
            if kind == Holiday.Kind.WORKING_DAY:
                days.pop(day, None)
            else:
                days[day] = (name, "added", pk)
        return [(day, *days[day]) for day in sorted(days)]


for _model in (SlaPolicy, ResponseTarget, BusinessCalendar, BusinessHours, Holiday):
    post_save.connect(clear_cache, sender=_model, dispatch_uid=f"sla-cache-{_model.__name__}-save")
    post_delete.connect(clear_cache, sender=_model, dispatch_uid=f"sla-cache-{_model.__name__}-delete")
