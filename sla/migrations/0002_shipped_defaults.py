"""The shipped defaults (DESIGN.md): the response-target chart, the Pacific business calendar with US
federal holidays and the day after Thanksgiving for 2026–2028, and the one-minute SLA sweep."""

from datetime import time

from django.db import migrations

BUSINESS_DAY = 540  # minutes: 09:00–18:00

CHART = [
    # severity, first response (minutes, clock), update cadence, resolution, definition
    (
        "S1",
        (30, "24x7"),
        (240, "business"),
        (BUSINESS_DAY, "business"),
        "Service unusable for critical functions; data corruption.",
    ),
    (
        "S2",
        (240, "business"),
        (BUSINESS_DAY, "business"),
        (3 * BUSINESS_DAY, "business"),
        "Major function broken with no workaround; severe slowness; wrong calculated values.",
    ),
    (
        "S3",
        (BUSINESS_DAY, "business"),
        (None, "business"),
        (10 * BUSINESS_DAY, "business"),
        "Minor function broken; a workaround exists.",
    ),
    (
        "S4",
        (3 * BUSINESS_DAY, "business"),
        (None, "business"),
        (None, "business"),
        "Cosmetic issues; help-system issues.",
    ),
    ("S5", (5 * BUSINESS_DAY, "business"), (None, "business"), (None, "business"), "Feature requests."),
]

HOLIDAYS = [
    ("2026-01-01", "New Year's Day"),
    ("2026-01-19", "Martin Luther King Jr. Day"),
    ("2026-02-16", "Washington's Birthday"),
    ("2026-05-25", "Memorial Day"),
    ("2026-06-19", "Juneteenth"),
    ("2026-07-03", "Independence Day (observed)"),
    ("2026-09-07", "Labor Day"),
    ("2026-10-12", "Columbus Day"),
    ("2026-11-11", "Veterans Day"),
    ("2026-11-26", "Thanksgiving Day"),
    ("2026-11-27", "Day after Thanksgiving"),
    ("2026-12-25", "Christmas Day"),
    ("2027-01-01", "New Year's Day"),
    ("2027-01-18", "Martin Luther King Jr. Day"),
    ("2027-02-15", "Washington's Birthday"),
    ("2027-05-31", "Memorial Day"),
    ("2027-06-18", "Juneteenth (observed)"),
    ("2027-07-05", "Independence Day (observed)"),
    ("2027-09-06", "Labor Day"),
    ("2027-10-11", "Columbus Day"),
    ("2027-11-11", "Veterans Day"),
    ("2027-11-25", "Thanksgiving Day"),
    ("2027-11-26", "Day after Thanksgiving"),
    ("2027-12-24", "Christmas Day (observed)"),
    ("2027-12-31", "New Year's Day 2028 (observed)"),
    ("2028-01-17", "Martin Luther King Jr. Day"),
    ("2028-02-21", "Washington's Birthday"),
    ("2028-05-29", "Memorial Day"),
    ("2028-06-19", "Juneteenth"),
    ("2028-07-04", "Independence Day"),
    ("2028-09-04", "Labor Day"),
    ("2028-10-09", "Columbus Day"),
    ("2028-11-10", "Veterans Day (observed)"),
    ("2028-11-23", "Thanksgiving Day"),
    ("2028-11-24", "Day after Thanksgiving"),
    ("2028-12-25", "Christmas Day"),
]


def ship_defaults(apps, schema_editor):
    ResponseTarget = apps.get_model("sla", "ResponseTarget")
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    BusinessHours = apps.get_model("sla", "BusinessHours")
    Holiday = apps.get_model("sla", "Holiday")
    for severity, first, update, resolution, definition in CHART:
        ResponseTarget.objects.update_or_create(
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
    calendar, created = BusinessCalendar.objects.get_or_create(
        name="Engineering (Pacific)", defaults={"timezone": "America/Los_Angeles", "is_default": True}
    )
    if created:
        BusinessHours.objects.bulk_create(
            BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(18)) for day in range(5)
        )
    for day, name in HOLIDAYS:
        Holiday.objects.get_or_create(calendar=calendar, date=day, defaults={"name": name})


def schedule_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="SLA sweep",
        defaults={
            "task": "sla.tasks.sweep",
            "interval": every_minute,
            "enabled": True,
            "description": "Marks breaches, fires at-risk and breach escalations, re-sends lost pages.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(ship_defaults, migrations.RunPython.noop),
        migrations.RunPython(schedule_sweep, migrations.RunPython.noop),
    ]
