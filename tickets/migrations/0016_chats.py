"""Chats (the portal's chat panel on a ticket), the chat transcript email, and the "Quiet chats" beat task."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def schedule_quiet_chats(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="Quiet chats",
        defaults={
            "task": "tickets.tasks.end_quiet_chats",
            "interval": every_minute,
            "enabled": True,
            "description": "Mails the transcript of each chat with no message for CHAT_QUIET_MINUTES, once.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0015_event_kinds_of_the_spine"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outgoingemail",
            name="kind",
            field=models.CharField(
                choices=[
                    ("received", "Ticket received"),
                    ("reply", "Agent reply"),
                    ("status", "Status changed"),
                    ("chat", "Chat transcript"),
                ],
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="Chat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField()),
                ("opened_ticket", models.BooleanField(default=False)),
                ("last_message_at", models.DateTimeField()),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ticket",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="chats", to="tickets.ticket"
                    ),
                ),
            ],
            options={
                "ordering": ["started_at", "pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("ended_at__isnull", True)),
                        fields=["started_at"],
                        name="chat_in_progress",
                    ),
                    models.Index(fields=["customer", "started_at"], name="chat_customer_started"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("ended_at__isnull", True)),
                        fields=("ticket", "customer"),
                        name="one_chat_in_progress_per_ticket",
                    )
                ],
            },
        ),
        migrations.RunPython(schedule_quiet_chats, migrations.RunPython.noop),
    ]
