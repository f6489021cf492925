"""Days off as iCalendar (RFC 5545): published for customers to subscribe to, and imported from a file
(a company's holiday calendar exported from Google Calendar or Outlook) as days added by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import icalendar
from dateutil.rrule import rrulestr
from django.db import transaction

from sla.calendars import HolidayRule, clear_cache
from sla.models import BusinessCalendar, Holiday

PRODID = "-//Helpdesk//Support days off//EN"
#: A recurring event is expanded this many years past its start, and never to more days than this.
RECURRENCE_YEARS = 10
MAX_DAYS = 2000
MAX_NAME = 100


def days_off_calendar(row: BusinessCalendar, *, years: range, domain: str) -> bytes:
    """The calendar's days off in `years` that fall on a working weekday (a holiday on a day support is
    closed anyway changes nothing for customers), as all-day events."""
    weekdays = set(row.hours.values_list("weekday", flat=True))
    feed = icalendar.Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", f"{row.name}: support days off")
    feed.add("x-wr-timezone", row.timezone)
    stamp = datetime.now(UTC).replace(microsecond=0)
    rule = HolidayRule.of(row)
    for year in years:
        for day, name, _source, _pk in rule.days_off(year):
            if day.weekday() not in weekdays:
                continue
            event = icalendar.Event()
            event.add("uid", f"{day.isoformat()}-calendar-{row.pk}@{domain}")
            event.add("dtstamp", stamp)
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
            event.add("summary", name)
            event.add("transp", "TRANSPARENT")
            event.add("categories", ["Holiday"])
            feed.add_component(event)
    return feed.to_ical()


class InvalidCalendarFile(ValueError):
    """The upload is not an iCalendar file this importer can read; the message says why."""


@dataclass
class ImportResult:
    added: list[tuple[date, str]] = field(default_factory=list)
    already: int = 0  # dates the calendar already had a row for (left as they were)
    skipped_timed: int = 0  # events with a time of day: not whole days off

    def summary(self) -> str:
        parts = [f"{len(self.added)} day{'s' if len(self.added) != 1 else ''} off added"]
        if self.already:
            parts.append(f"{self.already} already set")
        if self.skipped_timed:
            plural = "s" if self.skipped_timed != 1 else ""
            parts.append(f"{self.skipped_timed} event{plural} with a time of day skipped")
        return ", ".join(parts) + "."


def read_days(data: bytes) -> tuple[dict[date, str], int]:
    """The whole days of the file's all-day events (recurring ones expanded), and how many events had a
    time of day. Raises InvalidCalendarFile with a reason a person can act on."""
    try:
        feed = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as error:
        raise InvalidCalendarFile(f"This is not an iCalendar (.ics) file: {error}") from error
    if feed.name != "VCALENDAR":
        raise InvalidCalendarFile("This is not an iCalendar (.ics) file: it has no VCALENDAR.")
    days: dict[date, str] = {}
    timed = 0
    for event in feed.walk("VEVENT"):
        start = event.get("dtstart")
        if start is None:
            continue
        first = start.dt
        if isinstance(first, datetime):
            timed += 1
            continue
        end = event.get("dtend")
        last = end.dt - timedelta(days=1) if end is not None and not isinstance(end.dt, datetime) else first
        length = max((last - first).days, 0)
        name = str(event.get("summary", "") or "Day off").strip()[:MAX_NAME] or "Day off"
        for begin in _occurrences(event, first):
            for offset in range(length + 1):
                days.setdefault(begin + timedelta(days=offset), name)
                if len(days) > MAX_DAYS:
                    raise InvalidCalendarFile(f"The file names more than {MAX_DAYS} days off.")
    return days, timed


def _occurrences(event, first: date) -> list[date]:
    rule = event.get("rrule")
    if rule is None:
        return [first]
    until = datetime(first.year + RECURRENCE_YEARS, 12, 31)
    try:
        recurrence = rrulestr(rule.to_ical().decode(), dtstart=datetime(first.year, first.month, first.day))
    except (ValueError, TypeError) as error:
        raise InvalidCalendarFile(f"A recurring event's rule cannot be read: {error}") from error
    excluded = _excluded(event)
    found = []
    for moment in recurrence.between(datetime(first.year, first.month, first.day), until, inc=True):
        if moment.date() not in excluded:
            found.append(moment.date())
        if len(found) > MAX_DAYS:
            break
    return found


def _excluded(event) -> set[date]:
    """The EXDATEs of a recurring event (one property or several), as dates."""
    value = event.get("exdate")
    lists = value if isinstance(value, list) else [] if value is None else [value]
    days = set()
    for item in lists:
        for entry in item.dts:
            moment = entry.dt
            days.add(moment.date() if isinstance(moment, datetime) else moment)
    return days


@transaction.atomic
def import_days_off(*, calendar: BusinessCalendar, data: bytes) -> ImportResult:
    """Add the file's all-day events to `calendar` as days off set by hand. A date the calendar already
    has a row for (a day added, or a rule holiday marked worked) keeps it: an import never undoes a decision
    made by hand."""
    days, timed = read_days(data)
    result = ImportResult(skipped_timed=timed)
    existing = set(Holiday.objects.filter(calendar=calendar, date__in=days).values_list("date", flat=True))
    rows = []
    for day, name in sorted(days.items()):
        if day in existing:
            result.already += 1
            continue
        rows.append(Holiday(calendar=calendar, date=day, name=name, kind=Holiday.Kind.DAY_OFF))
        result.added.append((day, name))
    Holiday.objects.bulk_create(rows)
    clear_cache()  # bulk_create sends no post_save
    return result
