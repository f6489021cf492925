"""Escalation deliveries become outbox rows (helpdesk/outbox.py): `next_attempt_at` says when each is due,
indexed where the outbox process selects the due ones. An inserted escalation NOTIFYs the outbox process
when its transaction commits (PostgreSQL; on SQLite the process polls)."""

import django.utils.timezone
from django.db import migrations, models

NOTIFY_FUNCTION = """
    CREATE OR REPLACE FUNCTION helpdesk_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('helpdesk_outbox', TG_ARGV[0]);
        RETURN NULL;
    END $$
"""
CREATE_TRIGGER = """
    CREATE TRIGGER sla_escalation_outbox_notify AFTER INSERT ON sla_escalation
    FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_outbox_notify('escalations')
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS sla_escalation_outbox_notify ON sla_escalation"


def notify_on_insert(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NOTIFY_FUNCTION)
        schema_editor.execute(CREATE_TRIGGER)


def drop_notify(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0006_timezone_validated_not_listed"),
    ]

    operations = [
        migrations.AddField(
            model_name="escalationdelivery",
            name="next_attempt_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name="escalationdelivery",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "retrying"))),
                fields=["next_attempt_at"],
                name="escalation_delivery_due",
            ),
        ),
        migrations.RunPython(notify_on_insert, drop_notify),
    ]
