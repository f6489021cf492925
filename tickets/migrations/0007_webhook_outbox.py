"""Webhook deliveries as an outbox: `next_attempt_at` says when each is due, and the "Webhook sweep"
beat task enqueues again those whose task was lost."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def schedule_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="Webhook sweep",
        defaults={
            "task": "tickets.outgoing_webhooks.sweep",
            "interval": every_minute,
            "enabled": True,
            "description": "Sends again the webhook deliveries whose task was lost (broker down, worker killed).",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0006_ticket_list_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="webhookdelivery", name="webhook_undelivered"),
        migrations.AddField(
            model_name="webhookdelivery",
            name="next_attempt_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="ticket",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tickets.ticket",
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="payload",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "retrying"])),
                fields=["next_attempt_at"],
                name="webhook_undelivered",
            ),
        ),
        migrations.RunPython(schedule_sweep, migrations.RunPython.noop),
    ]
