"""ticket_update (one service for details, severity, assignee and status) and the messages that set a
status (`then_status`): all or nothing, the same audit trail and clocks as the one-field services."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from sla.models import TicketClock
from tests.factories import AgentFactory
from tickets.models import Event, Macro, Message, Severity, Status
from tickets.services import (
    macro_apply,
    ticket_add_note,
    ticket_change_severity,
    ticket_change_status,
    ticket_create,
    ticket_reply,
    ticket_update,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 4, 17, 30, tzinfo=UTC)


def create(requester, severity=Severity.S3, at=T0):
    return ticket_create(
        requester=requester,
        subject="Invites not sent",
        description="Nothing arrives.",
        severity=severity,
        at=at,
    )


def kinds(ticket):
    return list(
        Event.objects.filter(ticket=ticket).order_by("pk").values_list("kind", "from_value", "to_value")
    )


def clock_rows(ticket):
    fields = ("metric", "clock", "target_minutes", "state", "cycle", "started_at", "pauses", "paused_at")
    fields += ("due_at", "at_risk_at", "met_at", "breached_at")
    return list(TicketClock.objects.filter(ticket=ticket).order_by("metric").values_list(*fields))


def test_every_change_in_one_call_is_recorded_in_order(requester, agent):
    ticket = create(requester)
    other = AgentFactory()
    at = T0 + timedelta(hours=1)
    ticket = ticket_update(
        ticket=ticket,
        actor=agent,
        details={"subject": "Invites  not\nsent to candidates"},
        severity=Severity.S2,
        assignee=other,
        status=Status.PENDING,
        at=at,
    )
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.severity, ticket.assignee, ticket.status) == (
        "Invites not sent to candidates",
        Severity.S2,
        other,
        Status.PENDING,
    )
    assert ticket.updated_at == at
    assert kinds(ticket)[1:] == [
        (Event.Kind.INTAKE_UPDATED, "", ""),
        (Event.Kind.SEVERITY_CHANGED, "S3", "S2"),
        (Event.Kind.ASSIGNED, "", other.username),
        (Event.Kind.STATUS_CHANGED, "new", "pending"),
    ]


def test_one_refused_change_saves_nothing(requester, agent):
    ticket = create(requester)
    with pytest.raises(ValidationError) as refused:
        ticket_update(
            ticket=ticket,
            actor=agent,
            details={"subject": "Another subject"},
            severity=Severity.S1,
            assignee=agent,
            status=Status.NEW,  # agents never move a ticket back to new
        )
    assert "status" in refused.value.message_dict
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.severity, ticket.assignee, ticket.status) == (
        "Invites not sent",
        Severity.S3,
        None,
        Status.NEW,
    )
    assert kinds(ticket) == [(Event.Kind.CREATED, "", "S3")]
    assert not ticket.escalations.exists()  # the S1 page was never fired


def test_a_customer_may_only_change_the_status(requester):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        ticket_update(ticket=ticket, actor=requester, severity=Severity.S1, status=Status.RESOLVED)
    assert ticket_update(ticket=ticket, actor=requester, status=Status.RESOLVED).status == Status.RESOLVED


def test_nothing_to_change_records_nothing(requester, agent):
    ticket = create(requester)
    ticket_update(ticket=ticket, actor=agent, details={"subject": ticket.subject}, assignee=None)
    assert kinds(ticket) == [(Event.Kind.CREATED, "", "S3")]


@pytest.mark.parametrize(
    ("severity", "status"),
    [(Severity.S2, Status.PENDING), (Severity.S1, Status.RESOLVED), (Severity.S4, Status.ON_HOLD)],
)
def test_one_sla_pass_ends_where_the_one_field_services_do(requester, agent, severity, status):
    """The clocks after one call equal the clocks after the same changes made one by one."""
    at = T0 + timedelta(days=2, hours=3)
    one_by_one, at_once = create(requester), create(requester)
    for ticket in (one_by_one, at_once):
        ticket_reply(ticket=ticket, author=agent, body="On it.", at=T0 + timedelta(hours=2))
    ticket_change_severity(ticket=one_by_one, actor=agent, severity=severity, at=at)
    ticket_change_status(ticket=one_by_one, actor=agent, status=status, at=at)
    ticket_update(ticket=at_once, actor=agent, severity=severity, status=status, at=at)
    assert clock_rows(at_once) == clock_rows(one_by_one)
    one_by_one.refresh_from_db()
    at_once.refresh_from_db()
    assert at_once.sla_due_at == one_by_one.sla_due_at


# --- then_status ---------------------------------------------------------------------------------


def test_reply_then_status_is_one_change(requester, agent):
    ticket = create(requester, severity=Severity.S2)
    at = T0 + timedelta(hours=1)
    ticket_reply(
        ticket=ticket, author=agent, body="Could you send a HAR file?", then_status=Status.PENDING, at=at
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert kinds(ticket)[1:] == [
        (Event.Kind.REPLIED, "", ""),
        (Event.Kind.STATUS_CHANGED, "new", "open"),
        (Event.Kind.STATUS_CHANGED, "open", "pending"),
        (Event.Kind.SLA_MET, "", "first_response"),  # recorded once the change's clocks are settled
    ]
    # As a reply and a status change one after the other would leave them.
    twin = create(requester, severity=Severity.S2)
    ticket_reply(ticket=twin, author=agent, body="Could you send a HAR file?", at=at)
    ticket_change_status(ticket=twin, actor=agent, status=Status.PENDING, at=at)
    assert clock_rows(ticket) == clock_rows(twin)


def test_reply_then_the_status_it_already_has_changes_nothing_more(requester, agent):
    ticket = create(requester)
    ticket_reply(ticket=ticket, author=agent, body="On it.", then_status=Status.OPEN)
    assert [kind for kind, *_ in kinds(ticket)].count(Event.Kind.STATUS_CHANGED) == 1


def test_reply_with_a_refused_status_is_not_sent(requester, agent):
    ticket = create(requester)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    with pytest.raises(ValidationError):
        ticket_reply(ticket=ticket, author=requester, body="Thanks!", then_status=Status.CLOSED)
    assert not Message.objects.filter(ticket=ticket).exists()


def test_note_then_status(requester, agent):
    ticket = create(requester)
    ticket_add_note(ticket=ticket, author=agent, body="Waiting on engineering.", then_status=Status.ON_HOLD)
    ticket.refresh_from_db()
    assert ticket.status == Status.ON_HOLD


def test_macro_sets_its_status_with_its_message(requester, agent):
    ticket = create(requester)
    macro = Macro.objects.create(name="HAR", body="Please send a HAR file.", set_status=Status.PENDING)
    macro_apply(macro=macro, ticket=ticket, agent=agent)
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert [kind for kind, *_ in kinds(ticket)][1:] == [
        Event.Kind.REPLIED,
        Event.Kind.STATUS_CHANGED,
        Event.Kind.STATUS_CHANGED,
    ]
