"""The beat schedule of the email fetch: a "Fetch email" PeriodicTask every minute while EMAIL_IN_URL is set.

Created after `migrate` (not by a data migration) because it depends on the environment, which a
migration must not: a deployment that configures EMAIL_IN_URL later gets the task at its next migrate.
"""

from __future__ import annotations

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

TASK_NAME = "Fetch email"
TASK = "tickets.tasks.fetch_email"


def ensure_fetch_schedule(using: str = "default", **kwargs) -> PeriodicTask | None:
    """Create or re-enable the task when email intake is configured; otherwise disable an existing one
    (never create it), so beat stops calling a fetch that has nothing to read."""
    tasks = PeriodicTask.objects.using(using)
    if not settings.EMAIL_IN_URL:
        tasks.filter(name=TASK_NAME, enabled=True).update(enabled=False)
        return None
    every_minute, _ = IntervalSchedule.objects.using(using).get_or_create(
        every=60, period=IntervalSchedule.SECONDS
    )
    task, _ = tasks.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "interval": every_minute,
            "enabled": True,
            "description": "Reads new customer mail from EMAIL_IN_URL into tickets and replies.",
        },
    )
    return task
