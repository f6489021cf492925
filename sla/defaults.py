"""The shipped SLA defaults as the current models hold them: the Pacific business calendar on its holiday
rule, the default policy `Standard` on it, and its chart (DESIGN.md). The migrations ship them once; this
puts them back where they were wiped (tests that flush the database, `seed_demo` on an emptied one).
Idempotent: rows that exist are left as they are."""

from __future__ import annotations

import importlib
from datetime import time

from django.db import transaction

from sla.models import BusinessCalendar, BusinessHours, ResponseTarget, SlaPolicy

_SHIPPED = importlib.import_module("sla.migrations.0002_shipped_defaults")
_BY_RULE = importlib.import_module("sla.migrations.0004_default_calendar_by_rule")
_POLICIES = importlib.import_module("sla.migrations.0005_sla_policies")


@transaction.atomic
def ensure_shipped_defaults() -> SlaPolicy:
    """The default policy, with the shipped calendar and chart created where missing."""
    calendar, created = BusinessCalendar.objects.get_or_create(
        name=_BY_RULE.SHIPPED_NAME,
        defaults={
            "timezone": "America/Los_Angeles",
            "is_default": not BusinessCalendar.objects.filter(is_default=True).exists(),
            **_BY_RULE.RULES,
        },
    )
    if created:
        BusinessHours.objects.bulk_create(
            BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(18)) for day in range(5)
        )
    policy = SlaPolicy.objects.filter(is_default=True).first()
    if policy is None:
        policy, _ = SlaPolicy.objects.get_or_create(
            name=_POLICIES.STANDARD, defaults={"calendar": calendar, "is_default": True}
        )
    for severity, first, update, resolution, definition in _SHIPPED.CHART:
        ResponseTarget.objects.get_or_create(
            policy=policy,
            severity=severity,
            defaults={
                "first_response_minutes": first[0],
                "first_response_clock": first[1],
                "update_minutes": update[0],
                "update_clock": update[1],
                "resolution_minutes": resolution[0],
                "resolution_clock": resolution[1],
                "warn_at_percent": 75,
                "definition": definition,
            },
        )
    return policy
