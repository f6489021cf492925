"""The default calendar's holidays by rule, for every year: US federal holidays (observed Saturday → Friday,
Sunday → Monday) and the day after Thanksgiving. The hand-written 2026–2028 rows that the rule reproduces
go; any other row (a day added by hand) stays."""

import importlib

from django.db import migrations

SHIPPED_NAME = "Engineering (Pacific)"
RULES = {"holiday_country": "US", "holiday_subdivision": "", "holiday_extras": ["day_after_thanksgiving"]}


def default_calendar_by_rule(apps, schema_editor):
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    Holiday = apps.get_model("sla", "Holiday")
    shipped = importlib.import_module("sla.migrations.0002_shipped_defaults")
    calendar = BusinessCalendar.objects.filter(name=SHIPPED_NAME).first()
    if calendar is None or calendar.holiday_country:
        return  # renamed (the operator's own now) or already on a rule
    for field, value in RULES.items():
        setattr(calendar, field, value)
    calendar.save(update_fields=list(RULES))
    for day, name in shipped.HOLIDAYS:
        Holiday.objects.filter(calendar=calendar, date=day, name=name).delete()


def back_to_the_table(apps, schema_editor):
    BusinessCalendar = apps.get_model("sla", "BusinessCalendar")
    Holiday = apps.get_model("sla", "Holiday")
    shipped = importlib.import_module("sla.migrations.0002_shipped_defaults")
    calendar = BusinessCalendar.objects.filter(name=SHIPPED_NAME).first()
    if calendar is None:
        return
    for day, name in shipped.HOLIDAYS:
        Holiday.objects.get_or_create(calendar=calendar, date=day, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("sla", "0003_holiday_rules")]

    operations = [migrations.RunPython(default_calendar_by_rule, back_to_the_table)]
