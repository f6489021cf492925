"""Notification emails become outbox rows (`OutgoingEmail`, helpdesk/outbox.py), written in the
transaction of the change they tell about. An inserted email or webhook delivery NOTIFYs the outbox
process when its transaction commits (PostgreSQL; on SQLite the process polls)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

NOTIFY_FUNCTION = """
    CREATE OR REPLACE FUNCTION helpdesk_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('helpdesk_outbox', TG_ARGV[0]);
        RETURN NULL;
    END $$
"""
#: (table, the outbox's name)
TRIGGERS = [("tickets_outgoingemail", "emails"), ("tickets_webhookdelivery", "webhooks")]


def notify_on_insert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(NOTIFY_FUNCTION)
    for table, name in TRIGGERS:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_outbox_notify AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_outbox_notify('{name}')"
        )


def drop_notify(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _ in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_outbox_notify ON {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0013_timezone_validated_not_listed"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutgoingEmail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("sent", "Sent"),
                            ("retrying", "Retrying"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("response_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("received", "Ticket received"),
                            ("reply", "Agent reply"),
                            ("status", "Status changed"),
                        ],
                        max_length=8,
                    ),
                ),
                ("data", models.JSONField(blank=True, default=dict)),
                ("msgid", models.CharField(max_length=255, verbose_name="Message-ID")),
                (
                    "recipient",
                    models.CharField(
                        blank=True, help_text="Where it went, when it was sent.", max_length=254
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "message",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tickets.message",
                    ),
                ),
                (
                    "ticket",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tickets.ticket"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status__in", ("pending", "retrying"))),
                        fields=["next_attempt_at"],
                        name="email_due",
                    )
                ],
            },
        ),
        migrations.RunPython(notify_on_insert, drop_notify),
    ]
