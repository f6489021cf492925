"""A worker killed with SIGKILL in the middle of an S1 page's delivery: the page still goes out, once
answered, with the same delivery id as the attempt that died (issue 7; semantics in sla/escalations.py).

The on-call receiver holds the first POST unanswered while the worker is killed. With the solo pool the
whole worker dies and its task stays unacknowledged in Redis (restored only after the visibility
timeout, an hour): the outbox process, which left the row alone while the worker held its lock, takes
it as soon as the lock dies with the worker's connection. With the prefork pool only the child dies and
Celery requeues the task itself (reject_on_worker_lost). Redis is private to each test.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.utils import timezone

from sla import escalations
from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from tests.reliability.conftest import HoldingReceiver, children
from tests.sla.conftest import wait_until
from tickets.models import Severity
from tickets.services import ticket_create

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

#: DESIGN.md: on-call contacts are paged "within seconds".
PAGE_DEADLINE = 5.0


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


def create_s1(requester):
    return ticket_create(
        requester=requester,
        subject="Interviews cannot be scheduled",
        description="Every scheduling link answers 500.",
        severity=Severity.S1,
    )


def in_flight(receiver, ticket) -> tuple[Escalation, EscalationDelivery]:
    """Once the first POST is held: the page and its delivery row, locked by the sending worker."""
    (held,) = receiver.wait_for(1, timeout=PAGE_DEADLINE)
    assert held.reference == ticket.reference
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    delivery = page.deliveries.get()
    # Mid-delivery, another sender leaves it alone: the row lock tells it a worker is sending it right now.
    assert escalations.due(timezone.now(), 10) == [page.pk]
    assert escalations.deliver_due(page.pk) is False
    assert len(receiver.received()) == 1
    return page, delivery


def assert_paged_once(receiver, page: Escalation, delivery: EscalationDelivery) -> None:
    """Two POSTs: the held one, unanswered (its sender died), and the one answered 200; same id."""
    held, sent = receiver.wait_for(2, timeout=PAGE_DEADLINE, over=True)
    assert (held.status, sent.status) == (None, 200)
    assert held.delivery_id == sent.delivery_id == f"escalation-{page.pk}-{delivery.pk}"
    # The worker records the answer just after it arrives.
    sent_row = wait_until(
        lambda: EscalationDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).first(),
        timeout=PAGE_DEADLINE,
        message="the delivery was not recorded as sent",
    )
    assert (sent_row.attempts, sent_row.response_code) == (1, 200)
    wait_until(
        lambda: Escalation.objects.filter(pk=page.pk, completed_at__isnull=False).exists(),
        timeout=PAGE_DEADLINE,
        message="the page was not recorded as complete",
    )


def test_a_worker_killed_mid_delivery_pages_once_from_the_outbox_process(
    private_stack, receiver, on_call, requester
):
    worker = private_stack.start_worker()
    ticket = create_s1(requester)
    page, delivery = in_flight(receiver, ticket)
    outbox = private_stack.start_outbox()  # it polls and finds the row locked meanwhile

    os.kill(worker.process.pid, signal.SIGKILL)
    killed = time.monotonic()
    worker.process.wait(timeout=10)
    receiver.release()

    assert_paged_once(receiver, page, delivery)
    assert receiver.answered()[0].received_at - killed < PAGE_DEADLINE
    fresh = private_stack.start_worker()  # the task Redis still holds unacknowledged sends nothing
    fresh.wait_idle()
    assert len(receiver.received()) == 2
    assert outbox.process.poll() is None


def test_a_prefork_child_killed_mid_delivery_pages_once_from_the_requeued_task(
    private_stack, receiver, on_call, requester
):
    worker = private_stack.start_worker(pool="prefork", concurrency=1)
    ticket = create_s1(requester)
    page, delivery = in_flight(receiver, ticket)
    (child,) = children(worker.process.pid)

    os.kill(child, signal.SIGKILL)
    wait_until(lambda: child not in children(worker.process.pid), timeout=10, message="child not reaped")
    receiver.release()

    assert_paged_once(receiver, page, delivery)
    assert worker.process.poll() is None  # the same worker: its parent process lives on
    worker.wait_idle()
    assert len(receiver.received()) == 2
