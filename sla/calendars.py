"""The chart and the default calendar as the SLA code uses them, cached per process.

Rows change rarely (staff edit them in the admin); a save or delete in this process clears the cache at
once, and other processes pick the change up within CACHE_SECONDS.
"""

from __future__ import annotations

import threading
import time as monotonic_time

from django.db.models.signals import post_delete, post_save

from sla.business_time import Calendar
from sla.models import BusinessCalendar, BusinessHours, Clock, Holiday, ResponseTarget

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


def chart() -> dict[str, ResponseTarget]:
    """The response-target chart by severity."""
    return _cached("chart", lambda: {row.severity: row for row in ResponseTarget.objects.all()})


def response_target(severity: str) -> ResponseTarget | None:
    return chart().get(severity)


def default_calendar() -> Calendar:
    """The calendar business-hour targets count on (the default one, else the first)."""
    return _cached("calendar", _load_default_calendar)


def calendar_for(clock: str) -> Calendar:
    return Calendar.always() if clock == Clock.ALWAYS else default_calendar()


def _load_default_calendar() -> Calendar:
    row = BusinessCalendar.objects.order_by("-is_default", "pk").first()
    if row is None:
        raise BusinessCalendar.DoesNotExist(
            "No business calendar is configured; business-hour targets need one."
        )
    hours = [(h.weekday, h.start, h.end) for h in BusinessHours.objects.filter(calendar=row)]
    holidays = Holiday.objects.filter(calendar=row).values_list("date", flat=True)
    return Calendar(row.timezone, hours, holidays)


for _model in (ResponseTarget, BusinessCalendar, BusinessHours, Holiday):
    post_save.connect(clear_cache, sender=_model, dispatch_uid=f"sla-cache-{_model.__name__}-save")
    post_delete.connect(clear_cache, sender=_model, dispatch_uid=f"sla-cache-{_model.__name__}-delete")
