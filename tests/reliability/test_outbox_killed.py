"""The outbox process killed with SIGKILL (issue 12): nothing is lost and nothing is sent twice.

- Killed in the middle of a page, with no Celery worker running: the page's row is as before the attempt
  and its lock is gone; the restarted process sends it once, with the same delivery id as the attempt
  that died, and sends the emails filed while it was dead, once each.
- Killed while the Celery fast path runs: the pages filed while it is dead still go out within seconds of
  their commit (the worker sends them), and the restarted process sends nothing twice.

The outbox process, the worker and a private Redis run as in the other fault tests (conftest.py).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from tests.reliability.conftest import HoldingReceiver
from tests.sla.conftest import wait_until
from tickets.models import OutgoingEmail, Severity, Ticket
from tickets.notifications import thread_id
from tickets.services import ticket_create

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

#: DESIGN.md: on-call contacts are paged "within seconds".
PAGE_DEADLINE = 5.0
EMAIL_DEADLINE = 20.0


@pytest.fixture
def receiver():
    receiver = HoldingReceiver(hold_first=True).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def on_call(receiver) -> EscalationContact:
    return EscalationContact.objects.create(
        name="On-call pager", kind=ContactKind.WEBHOOK, url=receiver.url, on_page=True, on_breach=False
    )


def create_s1(requester, subject: str = "Interviews cannot be scheduled") -> Ticket:
    return ticket_create(
        requester=requester, subject=subject, description="Every link answers 500.", severity=Severity.S1
    )


def page_delivery(ticket) -> EscalationDelivery:
    return EscalationDelivery.objects.get(escalation__ticket=ticket, escalation__level=Level.PAGE)


def paged_within_seconds_of_commit(receiver, ticket) -> None:
    """The ticket's page answered 200 within PAGE_DEADLINE of its creation (before its commit)."""
    wait_until(
        lambda: ticket.reference in {p.reference for p in receiver.answered()},
        timeout=PAGE_DEADLINE,
        message=f"{ticket.reference} not paged within {PAGE_DEADLINE} s",
    )
    (post,) = [p for p in receiver.answered() if p.reference == ticket.reference]
    assert post.received_wall - ticket.created_at.timestamp() < PAGE_DEADLINE


def emailed(ticket) -> None:
    """Wait until the ticket's "received" email is recorded sent. Emails have a lane of their own: a kill
    meant for a page must not land between an email's send and its record, the one moment at which an
    email can go twice (SMTP takes no delivery id; the Message-ID stays the same for mail clients)."""
    wait_until(
        lambda: OutgoingEmail.objects.filter(ticket=ticket, status="sent").exists(),
        timeout=EMAIL_DEADLINE,
        message=f"{ticket.reference}'s email was not sent",
    )


def assert_emailed_once(stack, tickets) -> None:
    expected = {thread_id(ticket) for ticket in tickets}

    def sent() -> Counter:
        return Counter(message["Message-ID"] for message in stack.mailbox())

    wait_until(lambda: set(sent()) >= expected, timeout=EMAIL_DEADLINE, message="emails missing")
    counts = sent()
    assert {msgid: counts[msgid] for msgid in expected} == dict.fromkeys(expected, 1)
    rows = OutgoingEmail.objects.filter(ticket__in=tickets)
    # The mail server has an email a moment before its row's transaction commits it "sent" (seen on a
    # loaded machine: the mailbox complete, one row still pending): wait for that commit, then check.
    wait_until(
        lambda: set(rows.values_list("status", flat=True)) == {"sent"},
        timeout=EMAIL_DEADLINE,
        message="an emailed row was not recorded sent",
    )
    assert set(rows.values_list("status", "attempts")) == {("sent", 1)}


def test_the_outbox_killed_mid_page_sends_it_once_when_it_restarts(
    private_stack, receiver, on_call, requester
):
    outbox = private_stack.start_outbox()  # no Celery worker: only the outbox process sends
    ticket = create_s1(requester)
    (held,) = receiver.wait_for(1, timeout=PAGE_DEADLINE)  # the page's POST, held unanswered
    assert held.reference == ticket.reference
    emailed(ticket)

    outbox.kill()
    receiver.release()
    wait_until(lambda: receiver.received()[0].over, timeout=5, message="the held POST was not settled")
    delivery = page_delivery(ticket)
    # The attempt died with its transaction: the row is as before it, and its lock is gone.
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    filed_while_dead = [create_s1(requester, f"Filed while the outbox is dead {n}") for n in range(3)]

    restarted = time.monotonic()
    private_stack.start_outbox()

    receiver.wait_for(2, timeout=PAGE_DEADLINE, over=True)
    held, sent = [p for p in receiver.received() if p.reference == ticket.reference]
    assert (held.status, sent.status) == (None, 200)
    assert held.delivery_id == sent.delivery_id == f"escalation-{delivery.escalation_id}-{delivery.pk}"
    assert sent.received_at - restarted < PAGE_DEADLINE + 5  # the process's start (Django's set-up) included
    references = {t.reference for t in [ticket, *filed_while_dead]}
    wait_until(
        lambda: {p.reference for p in receiver.answered()} >= references,
        timeout=PAGE_DEADLINE,
        message="the pages filed while the outbox was dead were not sent",
    )
    assert_emailed_once(private_stack, [ticket, *filed_while_dead])
    answered = Counter(p.reference for p in receiver.answered())
    assert answered == Counter(references)
    assert set(
        EscalationDelivery.objects.filter(escalation__ticket__in=[ticket, *filed_while_dead]).values_list(
            "status", "attempts"
        )
    ) == {(DeliveryStatus.SENT, 1)}
    wait_until(
        lambda: not Escalation.objects.filter(completed_at__isnull=True).exists(),
        timeout=PAGE_DEADLINE,
        message="a page was not recorded as complete",
    )


def test_while_the_outbox_is_dead_the_worker_pages_within_seconds_and_nothing_goes_twice(
    private_stack, receiver, on_call, requester
):
    receiver.release()  # nothing held here
    worker = private_stack.start_worker()
    outbox = private_stack.start_outbox()
    before = create_s1(requester, "Before the kill")
    paged_within_seconds_of_commit(receiver, before)
    emailed(before)

    outbox.kill()
    filed_while_dead = [create_s1(requester, f"Filed while the outbox is dead {n}") for n in range(3)]
    for ticket in filed_while_dead:
        paged_within_seconds_of_commit(receiver, ticket)
    assert_emailed_once(private_stack, [before, *filed_while_dead])

    private_stack.start_outbox()
    worker.wait_idle()
    after = create_s1(requester, "After the restart")
    paged_within_seconds_of_commit(receiver, after)
    tickets = [before, *filed_while_dead, after]
    assert_emailed_once(private_stack, tickets)
    assert Counter(p.reference for p in receiver.received()) == Counter(t.reference for t in tickets)
    assert {p.status for p in receiver.received()} == {200}
