"""SLA policies (support plans): the chart becomes the default policy `Standard`, counted on the default
calendar. Existing tickets keep their clocks (their due times are rows, untouched here)."""

import django.db.models.deletion
from django.db import migrations, models

STANDARD = "Standard"


def chart_to_standard_policy(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    ResponseTarget = apps.get_model("sla", "ResponseTarget")
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    calendar = BusinessCalendar.objects.order_by("-is_default", "pk").first()
    if calendar is None:  # a database without the shipped defaults: nothing to move
        return
    policy, _ = SlaPolicy.objects.get_or_create(
        name=STANDARD,
        defaults={
            "is_default": not SlaPolicy.objects.filter(is_default=True).exists(),
            "calendar": calendar,
            "description": "Counted in Pacific business hours; S1 around the clock.",
        },
    )
    ResponseTarget.objects.filter(policy__isnull=True).update(policy=policy)


def standard_policy_back_to_the_chart(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    ResponseTarget = apps.get_model("sla", "ResponseTarget")
    default = SlaPolicy.objects.filter(is_default=True).first()
    ResponseTarget.objects.exclude(policy=default).delete()  # one row per severity again


class Migration(migrations.Migration):
    dependencies = [("sla", "0004_default_calendar_by_rule")]

    operations = [
        migrations.CreateModel(
            name="SlaPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                (
                    "is_default",
                    models.BooleanField(
                        default=False,
                        help_text="The policy of every organization that is not put on another one.",
                    ),
                ),
                (
                    "description",
                    models.TextField(blank=True, help_text="What the plan offers, shown to its customers."),
                ),
                (
                    "calendar",
                    models.ForeignKey(
                        help_text="The calendar its business-hour targets count on.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="policies",
                        to="sla.businesscalendar",
                    ),
                ),
            ],
            options={
                "verbose_name": "SLA policy",
                "verbose_name_plural": "SLA policies",
                "ordering": ["-is_default", "name"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_default", True)),
                        fields=("is_default",),
                        name="one_default_policy",
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="responsetarget",
            name="policy",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="targets",
                to="sla.slapolicy",
            ),
        ),
        migrations.RunPython(chart_to_standard_policy, standard_policy_back_to_the_chart),
        migrations.AlterField(
            model_name="responsetarget",
            name="policy",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="targets", to="sla.slapolicy"
            ),
        ),
        migrations.AlterField(
            model_name="responsetarget",
            name="severity",
            field=models.CharField(
                choices=[
                    ("S1", "S1 Critical"),
                    ("S2", "S2 High"),
                    ("S3", "S3 Medium"),
                    ("S4", "S4 Low"),
                    ("S5", "S5 Enhancement"),
                ],
                max_length=2,
            ),
        ),
        migrations.AlterModelOptions(name="responsetarget", options={"ordering": ["policy", "severity"]}),
        migrations.AddConstraint(
            model_name="responsetarget",
            constraint=models.UniqueConstraint(
                fields=("policy", "severity"), name="one_target_per_policy_severity"
            ),
        ),
    ]
