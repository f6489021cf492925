"""The "Housekeeping" beat task: once a day, expired Idempotency-Keys and orphan attachment files go."""

from django.db import migrations


def schedule_housekeeping(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_day, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.update_or_create(
        name="Housekeeping",
        defaults={
            "task": "tickets.tasks.housekeeping",
            "interval": every_day,
            "enabled": True,
            "description": "Forgets expired Idempotency-Keys; deletes attachment files no attachment refers to.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0007_webhook_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_housekeeping, migrations.RunPython.noop)]
