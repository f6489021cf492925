"""The data migration that put the default calendar on holidays by rule (sla 0004), on a database with a
history: tickets keep their clocks, the shipped rows that the rule reproduces go, a day added by hand stays,
and going back restores the table."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("sla", "0002_shipped_defaults")]
AFTER = [("sla", "0004_default_calendar_by_rule")]


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_default_calendar_moves_to_the_rule_and_keeps_what_was_added_by_hand(shipped_defaults):
    from sla.models import TicketClock
    from tests.factories import CustomerFactory
    from tickets.services import ticket_create

    ticket = ticket_create(requester=CustomerFactory(), subject="Sync broke", description="Since 9:40.")
    clocks = {(c.metric, c.due_at) for c in TicketClock.objects.filter(ticket=ticket)}
    assert clocks

    old = migrate(BEFORE)
    calendar = old.get_model("sla", "BusinessCalendar").objects.get(is_default=True)
    holiday = old.get_model("sla", "Holiday")
    holiday.objects.get_or_create(calendar=calendar, date=date(2027, 3, 15), defaults={"name": "Offsite"})
    assert holiday.objects.filter(calendar=calendar).count() == 37

    new = migrate(AFTER)
    calendar = new.get_model("sla", "BusinessCalendar").objects.get(is_default=True)
    assert (calendar.holiday_country, calendar.holiday_extras) == ("US", ["day_after_thanksgiving"])
    rows = new.get_model("sla", "Holiday").objects.filter(calendar=calendar)
    assert [(row.date, row.name, row.kind) for row in rows] == [(date(2027, 3, 15), "Offsite", "day_off")]
    # Clocks are rows with their due times: the migration does not touch them.
    assert {(c.metric, c.due_at) for c in TicketClock.objects.filter(ticket=ticket)} == clocks

    back = migrate(BEFORE)
    assert back.get_model("sla", "Holiday").objects.filter(calendar_id=calendar.pk).count() == 37
    migrate(latest())  # the next tests need every migration


def test_the_chart_becomes_the_standard_policy_and_open_tickets_record_it(shipped_defaults):
    """sla 0005 and tickets 0011 on a database with tickets: the chart's rows move to `Standard` (the
    default policy, on the default calendar), tickets not closed record it, clocks stay as they were."""
    from sla.models import ResponseTarget, TicketClock
    from tests.factories import CustomerFactory
    from tickets.models import Status, Ticket
    from tickets.services import ticket_create

    customer = CustomerFactory()
    open_ticket = ticket_create(requester=customer, subject="Open", description="d")
    closed = ticket_create(requester=customer, subject="Closed", description="d")
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    clocks = sorted(TicketClock.objects.values_list("ticket_id", "metric", "due_at"))

    migrate(
        [("sla", "0004_default_calendar_by_rule"), ("tickets", "0010_customers_are_not_staff_emails_unique")]
    )
    new = migrate(latest())
    policy = new.get_model("sla", "SlaPolicy").objects.get()
    assert (policy.name, policy.is_default) == ("Standard", True)
    assert policy.calendar.is_default
    assert set(ResponseTarget.objects.values_list("policy_id", flat=True)) == {policy.pk}
    assert ResponseTarget.objects.count() == 5
    tickets = dict(Ticket.objects.values_list("pk", "sla_policy_id"))
    assert tickets == {open_ticket.pk: policy.pk, closed.pk: None}
    assert Ticket.objects.get(pk=open_ticket.pk).sla_calendar_id == policy.calendar_id
    assert sorted(TicketClock.objects.values_list("ticket_id", "metric", "due_at")) == clocks
