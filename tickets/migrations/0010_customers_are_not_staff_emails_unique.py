"""Agents hold no customer membership, and one email address belongs to one account (any case).

Existing rows are put right before the rule is enforced, never by failing the migration:
- an agent's (staff or superuser) membership is deleted: it gave the agent nothing (agents see every
  ticket as agents; `customer_membership` ignores it) but exposed the account to whatever manages that
  organization's people, an organization-limited token above all;
- of accounts sharing an address, the agent keeps it, else the oldest account; the others' email is
  blanked (each is printed, to be looked at: such an account signs in as before, but gets no mail and
  cannot reset its password until given an address of its own).
Then a unique index on LOWER(email), non-empty addresses only, makes the database refuse a duplicate
whatever writes it (the console, the API, email intake, a shell).
"""

from django.conf import settings
from django.db import migrations
from django.db.models import Q
from django.db.models.functions import Lower

INDEX = "auth_user_email_ci_unique"


def remove_staff_memberships(apps, schema_editor):
    Membership = apps.get_model("tickets", "Membership")
    agents = Membership.objects.filter(Q(user__is_staff=True) | Q(user__is_superuser=True))
    for membership in agents.select_related("user", "organization"):
        print(
            f"\n  {membership.user.username}: an agent, no longer a customer of {membership.organization.name}"
        )
    agents.delete()


def blank_duplicate_emails(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    keeper = {}
    users = (
        User.objects.exclude(email="")
        .annotate(address=Lower("email"))
        .order_by("-is_staff", "pk")
        .only("pk", "username", "email", "is_staff")
    )
    for user in users.iterator():
        if user.address not in keeper:
            keeper[user.address] = user.username
            continue
        print(f"\n  {user.username}: email {user.email} blanked; {keeper[user.address]} has it")
        User.objects.filter(pk=user.pk).update(email="")


def _table(apps, schema_editor) -> str:
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    return schema_editor.quote_name(User._meta.db_table)


def create_index(apps, schema_editor):
    schema_editor.execute(
        f"CREATE UNIQUE INDEX {INDEX} ON {_table(apps, schema_editor)} (LOWER(email)) WHERE email <> ''"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0009_inbound_sender_auth"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(remove_staff_memberships, migrations.RunPython.noop),
        migrations.RunPython(blank_duplicate_emails, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
