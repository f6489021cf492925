"""The event spine: typed constructors (one per kind, payloads read back typed), the dispatcher's two
kinds of subscriber (in the transaction; after commit, never for a rolled-back change), and the SLA
engine's escalations recorded once on the ticket's trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from sla.escalations import deliver
from sla.models import Escalation, Level, Metric
from tests.factories import AgentFactory
from tickets import events, spine
from tickets.events import (
    Assigned,
    AttachmentAdded,
    DetailsChanged,
    EscalationFired,
    MessageAdded,
    SatisfactionRated,
    SeverityChanged,
    SlaMet,
    SlaPolicyChanged,
    StatusChanged,
    TicketCreated,
    payload_of,
)
from tickets.models import Event, Severity, Status
from tickets.services import ticket_add_note, ticket_change_status, ticket_create, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


def new_ticket(requester, severity=Severity.S3):
    return ticket_create(
        requester=requester, subject="Invites bounce", description="All of them.", severity=severity
    )


def reread(event: Event) -> Event:
    return Event.objects.get(pk=event.pk)  # no in-memory payload: read back from the row


@pytest.fixture
def probe():
    """Subscribes a recorder after commit (and one in the transaction); unsubscribes both."""
    seen = {"durable": [], "after_commit": []}

    def durable(event):
        seen["durable"].append((event.kind, transaction.get_connection().in_atomic_block))

    def after_commit(event):
        seen["after_commit"].append(event.kind)

    spine.subscribe(durable, durable=True)
    spine.subscribe(after_commit)
    yield seen
    spine.unsubscribe(durable)
    spine.unsubscribe(after_commit)


def test_every_kind_has_a_typed_payload():
    kinds = {kind for payload in events._PAYLOADS.values() for kind in payload.KINDS}
    assert kinds == set(Event.Kind.values)


def test_payloads_read_back_as_written(requester, agent):
    ticket = new_ticket(requester)
    created = Event.objects.get(ticket=ticket, kind=Event.Kind.CREATED)
    assert payload_of(reread(created)) == TicketCreated(severity=Severity.S3, channel="portal")

    other = AgentFactory()
    ticket_update(ticket=ticket, actor=agent, severity=Severity.S2, assignee=other, status=Status.OPEN)
    trail = {e.kind: payload_of(reread(e)) for e in Event.objects.filter(ticket=ticket)}
    assert trail[Event.Kind.SEVERITY_CHANGED] == SeverityChanged(previous="S3", current="S2")
    assert trail[Event.Kind.ASSIGNED] == Assigned(
        previous_name="", current_name=other.get_username(), previous_id=None, current_id=other.pk
    )
    assert trail[Event.Kind.STATUS_CHANGED] == StatusChanged(previous="new", current="open")

    note = ticket_add_note(ticket=ticket, author=agent, body="Checked the MX records.")
    read = payload_of(reread(Event.objects.get(ticket=ticket, kind=Event.Kind.NOTE_ADDED)))
    assert read == MessageAdded(message_id=note.pk, internal=True)


def test_a_fresh_event_tells_its_subscribers_more_than_its_row(requester, agent, probe):
    ticket = new_ticket(requester)
    reply = ticket_reply(ticket=ticket, author=agent, body="On it.")
    fresh = events.message_added(message=reply, at=timezone.now())
    assert payload_of(fresh) == MessageAdded(message_id=reply.pk, internal=False, by_agent=True)
    assert payload_of(reread(fresh)).by_agent is None  # not stored: the message's author_role says


@pytest.mark.parametrize(
    "payload",
    [
        DetailsChanged(fields=["product_area", "candidates"]),
        AttachmentAdded(name="har.json", attachment_id=7, internal=True),
        SlaPolicyChanged(previous="Standard", current="Enterprise"),
        SlaMet(metric=Metric.RESOLUTION, cycle=0),
        EscalationFired(metric=Metric.FIRST_RESPONSE, level=Level.BREACH, escalation_id=3, cycle=1),
        SatisfactionRated(rating="good", comment="Fast and kind."),
    ],
)
def test_every_payload_survives_its_row(requester, payload):
    ticket = new_ticket(requester)
    event = events._record(ticket, payload, None, timezone.now())
    assert reread(event).kind == payload.kind
    assert payload_of(reread(event)) == payload


def test_subscribers_in_the_transaction_and_after_commit(
    requester, probe, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        new_ticket(requester)
    assert probe["durable"] == [(Event.Kind.CREATED, True)]
    assert probe["after_commit"] == [Event.Kind.CREATED]


def test_a_rolled_back_change_reaches_no_subscriber_after_commit(
    requester, agent, probe, django_capture_on_commit_callbacks
):
    ticket = new_ticket(requester)
    probe["durable"].clear()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ticket_change_status(ticket=ticket, actor=agent, status=Status.OPEN)
        kept = Event.objects.filter(ticket=ticket).count()
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket_add_note(ticket=ticket, author=agent, body="Rolled back with its savepoint")
            raise RuntimeError
    assert Event.objects.filter(ticket=ticket).count() == kept
    assert [kind for kind, _ in probe["durable"]] == [Event.Kind.STATUS_CHANGED, Event.Kind.NOTE_ADDED]
    assert probe["after_commit"] == [Event.Kind.STATUS_CHANGED]


def test_a_failing_subscriber_after_commit_keeps_the_change_and_the_others(
    requester, probe, django_capture_on_commit_callbacks, caplog
):
    def broken(event):
        raise ValueError("live channel down")

    spine.subscribe(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = new_ticket(requester)
        spine.subscribe(broken)  # twice: still once
        assert [s.handler for s in spine.subscribers()].count(broken) == 1
    finally:
        spine.unsubscribe(broken)
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.CREATED).exists()
    assert probe["after_commit"] == [Event.Kind.CREATED]
    assert "live channel down" in caplog.text


def test_a_failing_subscriber_in_the_transaction_rolls_the_change_back(requester):
    def broken(event):
        raise ValueError("outbox full")

    spine.subscribe(broken, durable=True)
    try:
        with pytest.raises(ValueError, match="outbox full"):
            new_ticket(requester)
    finally:
        spine.unsubscribe(broken)
    assert not Event.objects.exists()


def test_met_targets_are_recorded_once_per_change(requester, agent):
    ticket = new_ticket(requester, Severity.S2)
    at = ticket.created_at + timedelta(minutes=30)
    ticket_reply(ticket=ticket, author=agent, body="Looking at it.", at=at)
    ticket_reply(ticket=ticket, author=agent, body="Still on it.", at=at + timedelta(minutes=5))
    met = [payload_of(e) for e in Event.objects.filter(ticket=ticket, kind=Event.Kind.SLA_MET)]
    # The first reply meets first_response; the second meets next_update of the first update period (0).
    assert met == [SlaMet(metric=Metric.FIRST_RESPONSE), SlaMet(metric=Metric.NEXT_UPDATE, cycle=0)]
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED, at=at + timedelta(minutes=9))
    assert payload_of(Event.objects.filter(ticket=ticket).last()) == SlaMet(metric=Metric.RESOLUTION)


def test_customers_see_only_the_public_kinds(requester, agent):
    ticket = new_ticket(requester)
    ticket_add_note(ticket=ticket, author=agent, body="internal")
    ticket_reply(ticket=ticket, author=agent, body="public")
    by_kind = {e.kind: e for e in Event.objects.filter(ticket=ticket)}
    assert by_kind[Event.Kind.REPLIED].is_public and not by_kind[Event.Kind.REPLIED].is_internal
    assert by_kind[Event.Kind.NOTE_ADDED].is_internal and not by_kind[Event.Kind.NOTE_ADDED].is_public
    assert not by_kind[Event.Kind.SLA_MET].is_public


def test_an_escalation_is_recorded_once_however_often_it_is_delivered(requester):
    ticket = new_ticket(requester, Severity.S1)
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    deliver(page.pk)
    deliver(page.pk)
    Escalation.objects.filter(pk=page.pk).update(completed_at=None)
    deliver(page.pk)  # a duplicate task after completion was undone: still one event
    fired = Event.objects.filter(ticket=ticket, kind=Event.Kind.ESCALATED)
    assert [payload_of(e) for e in fired] == [
        EscalationFired(metric=Metric.FIRST_RESPONSE, level=Level.PAGE, escalation_id=page.pk)
    ]
    assert fired.get().actor is None
