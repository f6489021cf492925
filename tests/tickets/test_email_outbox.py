"""Notification emails as outbox rows (tickets/notifications.py): written in the change's transaction,
sent by their task or by the outbox process, once, with the Message-ID fixed when queued; retried with
backoff; never to a requester who lost access meanwhile."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from helpdesk.pager import Pager
from tickets import notifications
from tickets.models import OutgoingEmail, Status
from tickets.services import ticket_add_note, ticket_change_status, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db


class FlakyBackend(BaseEmailBackend):
    """Django's test outbox, except that the first `failures` sends fail as a lost SMTP server does."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(settings, mailoutbox):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 0
    yield FlakyBackend
    FlakyBackend.failures = 0


def create(requester, **kwargs):
    return ticket_create(
        requester=requester, subject="Scheduler is down", description="Since 9:12.", **kwargs
    )


def emails(ticket) -> list[tuple[str, str]]:
    return list(OutgoingEmail.objects.filter(ticket=ticket).order_by("pk").values_list("kind", "status"))


def test_each_change_writes_its_email_in_its_own_transaction(requester, agent):
    ticket = create(requester)
    ticket_reply(ticket=ticket, author=agent, body="Which browser?", then_status=Status.PENDING)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.ON_HOLD)  # nothing asked of the customer

    assert emails(ticket) == [("received", "pending"), ("reply", "pending"), ("status", "pending")]
    received, reply, status = OutgoingEmail.objects.filter(ticket=ticket).order_by("pk")
    assert received.msgid == notifications.thread_id(ticket)
    assert reply.msgid == notifications.notification_id(ticket, "reply", reply.message_id)
    assert status.data == {"previous": "open", "current": "pending"}


def test_a_change_that_rolls_back_leaves_no_email(requester, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        create(requester)
        raise RuntimeError("the change fails after the email was queued")
    assert callbacks == []
    assert not OutgoingEmail.objects.exists()


def test_the_functions_named_for_the_event_subscribers_queue_one_row_each(requester, agent):
    ticket = create(requester)
    note = ticket_add_note(ticket=ticket, author=agent, body="Customer is on the legacy plan.")
    OutgoingEmail.objects.all().delete()

    assert notifications.queue_ticket_received(ticket).kind == "received"
    assert notifications.queue_agent_reply(note) is None  # a note is never mailed
    assert notifications.queue_status_changed(ticket, Status.OPEN, Status.ON_HOLD) is None
    assert notifications.queue_status_changed(ticket, Status.OPEN, Status.RESOLVED).kind == "status"
    assert emails(ticket) == [("received", "pending"), ("status", "pending")]


def test_an_email_whose_task_was_lost_is_sent_once_by_the_outbox_process(requester, mailoutbox):
    ticket = create(
        requester
    )  # its commit hook, which enqueues the task, never runs: as if the broker were down

    Pager(poll=1, listen=False).deliver_due()
    Pager(poll=1, listen=False).deliver_due()

    assert [m.extra_headers["Message-ID"] for m in mailoutbox] == [notifications.thread_id(ticket)]
    email = OutgoingEmail.objects.get(ticket=ticket)
    assert (email.status, email.attempts, email.recipient) == ("sent", 1, requester.email)
    assert email.delivered_at is not None
    assert notifications.send_email.apply(args=[email.pk]).get() == "busy"  # a late task sends nothing


def test_a_retried_email_keeps_its_message_id(requester, agent, flaky):
    ticket = create(requester)
    ticket_reply(ticket=ticket, author=agent, body="Done.", then_status=Status.RESOLVED)
    status = OutgoingEmail.objects.get(ticket=ticket, kind="status")
    flaky.failures = 1

    first = notifications.attempt(status.pk)
    assert (first.status, first.retry_in) == ("retrying", 2.0)
    status.refresh_from_db()
    assert (status.status, status.attempts) == ("retrying", 1)
    assert "unexpectedly closed" in status.last_error
    assert notifications.attempt(status.pk).status == "waiting"  # its backoff has not passed

    OutgoingEmail.objects.filter(pk=status.pk).update(next_attempt_at=timezone.now())
    assert notifications.attempt(status.pk).status == "sent"
    (sent,) = [m for m in mail.outbox if m.extra_headers["Message-ID"] == status.msgid]
    assert sent.subject == f"[{ticket.reference}] Resolved: Scheduler is down"
    assert sent.extra_headers["In-Reply-To"] == notifications.thread_id(ticket)


def test_an_email_that_keeps_failing_is_given_up_after_eight_attempts(requester, flaky):
    email = OutgoingEmail.objects.get(ticket=create(requester))
    flaky.failures = 100
    delays = []
    for _ in range(8):
        outcome = notifications.attempt(email.pk, respect_backoff=False)
        delays.append(outcome.retry_in)
    assert delays == [2, 4, 8, 16, 32, 64, 128, None]
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 8)
    assert mail.outbox == []


def test_the_requester_is_checked_when_the_email_is_sent(requester, agent, other_organization, mailoutbox):
    ticket = create(requester)
    ticket_reply(ticket=ticket, author=agent, body="Here is the fix.")
    requester.membership.organization = other_organization  # moved away before the worker ran
    requester.membership.save()

    Pager(poll=1, listen=False).deliver_due()

    assert mailoutbox == []
    assert set(
        OutgoingEmail.objects.filter(ticket=ticket).values_list("status", "attempts", "last_error")
    ) == {("failed", 0, "The requester may no longer see the ticket.")}


def test_a_requester_without_an_address_gets_nothing_and_it_is_said(requester, mailoutbox):
    requester.email = ""
    requester.save()
    email = OutgoingEmail.objects.get(ticket=create(requester))
    assert notifications.attempt(email.pk).status == "withdrawn"
    email.refresh_from_db()
    assert (email.status, email.last_error) == ("failed", "The requester has no email address.")
    assert mailoutbox == []


def test_emails_are_due_in_the_order_they_were_queued(requester):
    first, second = (OutgoingEmail.objects.get(ticket=create(requester)) for _ in range(2))
    OutgoingEmail.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert notifications.due(timezone.now(), 10) == [second.pk]
    assert notifications.due(timezone.now() + timedelta(minutes=1), 10) == [second.pk, first.pk]
