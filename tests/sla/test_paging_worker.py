"""The S1 page end to end: a ticket created through the services, a real Celery worker on Redis, the test
database on PostgreSQL and a webhook receiver. One signed POST per page, however the task is lost,
duplicated or retried (DESIGN.md, "SLA rules")."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk import webhooks
from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from sla.sweep import sweep
from sla.tasks import deliver_escalation
from tests.sla.conftest import wait_until
from tickets.models import Severity
from tickets.services import ticket_create

pytestmark = [
    pytest.mark.redis,
    # The worker sees committed rows only; the shipped chart is put back after each flush.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

#: DESIGN.md: on-call contacts are notified "within seconds".
PAGE_DEADLINE = 5.0
#: Two failures with backoff 2 s and 4 s, plus the worker's start-up slack.
RETRY_DEADLINE = 20.0
PREFORK = pytest.mark.parametrize(
    "celery_worker_process", [{"pool": "prefork", "concurrency": 2}], indirect=True, ids=["prefork2"]
)


@pytest.fixture
def on_call(webhook_receiver) -> EscalationContact:
    return EscalationContact.objects.create(
        name="On-call pager",
        kind=ContactKind.WEBHOOK,
        url=webhook_receiver.url,
        secret="pager-shared-secret",
        on_page=True,
        on_breach=False,
        timeout_seconds=5,
        max_attempts=6,
    )


def create_s1(requester):
    return ticket_create(
        requester=requester,
        subject="Checkout is down for every customer",
        description="Every payment fails with a 502 since 09:12 UTC.",
        severity=Severity.S1,
    )


def page_of(ticket) -> Escalation:
    return Escalation.objects.get(ticket=ticket, level=Level.PAGE)


def sent_delivery(ticket) -> EscalationDelivery:
    """The page's delivery once it is recorded as sent (the worker commits just after the POST)."""
    return wait_until(
        lambda: EscalationDelivery.objects.filter(
            escalation__ticket=ticket, escalation__level=Level.PAGE, status=DeliveryStatus.SENT
        ).first(),
        timeout=PAGE_DEADLINE,
        message="the page's delivery was not marked sent",
    )


def assert_signed_page(request, *, contact: EscalationContact, ticket) -> None:
    assert webhooks.verify(
        contact.secret,
        request.header(webhooks.TIMESTAMP_HEADER),
        request.body,
        request.header(webhooks.SIGNATURE_HEADER),
    )
    assert request.header(webhooks.EVENT_HEADER) == "sla.escalated"
    payload = request.json()
    assert payload["level"] == Level.PAGE
    assert payload["ticket"]["reference"] == ticket.reference
    assert payload["ticket"]["severity"] == Severity.S1


def concurrently(count: int, function, **kwargs) -> list:
    """Run `function` in `count` threads released together; each thread has (and closes) its own
    database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = function(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def test_s1_ticket_pages_on_call_once_within_seconds(
    celery_worker_process, webhook_receiver, on_call, requester
):
    started = time.monotonic()
    ticket = create_s1(requester)

    (request,) = webhook_receiver.wait_for(1, timeout=PAGE_DEADLINE)
    assert request.received_at - started < PAGE_DEADLINE
    assert_signed_page(request, contact=on_call, ticket=ticket)
    assert request.json()["due_at"] is not None  # the shipped chart's 30-minute S1 first response
    delivery = sent_delivery(ticket)
    assert delivery.attempts == 1
    assert delivery.response_code == 200
    assert request.header(webhooks.DELIVERY_HEADER) == f"escalation-{delivery.escalation_id}-{delivery.pk}"

    celery_worker_process.wait_idle()
    assert len(webhook_receiver.received()) == 1
    assert page_of(ticket).completed_at is not None


def test_page_lost_while_broker_down_is_sent_by_the_sweep(
    celery_worker_process, webhook_receiver, on_call, requester
):
    with celery_worker_process.broker_unreachable():
        ticket = create_s1(requester)  # saved: the broker's failure is logged, not raised

    page = page_of(ticket)
    assert page.enqueued_at is None
    celery_worker_process.wait_idle()
    assert webhook_receiver.received() == []

    result = sweep(now=timezone.now() + timedelta(seconds=6))  # past the 5 s grace for fresh escalations

    assert result.reenqueued == 1
    (request,) = webhook_receiver.wait_for(1, timeout=PAGE_DEADLINE)
    assert_signed_page(request, contact=on_call, ticket=ticket)
    assert sent_delivery(ticket).attempts == 1
    celery_worker_process.wait_idle()
    assert len(webhook_receiver.received()) == 1


@PREFORK
def test_duplicate_tasks_and_concurrent_sweeps_send_one_page(
    celery_worker_process, webhook_receiver, on_call, requester
):
    webhook_receiver.delay = 0.5  # a slow receiver keeps the delivery row locked while duplicates arrive
    with celery_worker_process.broker_unreachable():
        ticket = create_s1(requester)
    page = page_of(ticket)

    # Two sweeps at once find the page never handed over and idle: at least one hands it over (the
    # other may too, or may find its delivery already locked by the worker). Then two duplicate tasks.
    results = concurrently(2, sweep, now=timezone.now() + timedelta(seconds=6))
    deliver_escalation.delay(page.pk)
    deliver_escalation.delay(page.pk)

    assert sum(result.reenqueued for result in results) >= 1
    (request,) = webhook_receiver.wait_for(1, timeout=PAGE_DEADLINE)
    assert_signed_page(request, contact=on_call, ticket=ticket)
    celery_worker_process.wait_idle()
    assert len(webhook_receiver.received()) == 1
    delivery = sent_delivery(ticket)
    assert delivery.attempts == 1
    assert page_of(ticket).completed_at is not None


@PREFORK
def test_duplicate_task_while_first_attempt_fails_still_delivers(
    celery_worker_process, webhook_receiver, on_call, requester
):
    # The first POST fails slowly; a duplicate task finds the delivery locked meanwhile. It must not
    # record the page as complete, or the retry of the first task would give up and nobody is paged.
    webhook_receiver.fail_first = 1
    webhook_receiver.delay = 1.0
    ticket = create_s1(requester)
    deliver_escalation.delay(page_of(ticket).pk)

    wait_until(lambda: webhook_receiver.successes(), timeout=RETRY_DEADLINE, message="never delivered")
    celery_worker_process.wait_idle()
    assert [r.status for r in webhook_receiver.received()] == [500, 200]
    delivery = sent_delivery(ticket)
    assert delivery.attempts == 2
    assert page_of(ticket).completed_at is not None


def test_failing_receiver_gets_the_page_on_the_third_attempt_with_backoff(
    celery_worker_process, webhook_receiver, on_call, requester
):
    webhook_receiver.fail_first = 2
    ticket = create_s1(requester)

    requests = webhook_receiver.wait_for(3, timeout=RETRY_DEADLINE)
    assert [r.status for r in requests] == [500, 500, 200]
    for request in requests:
        assert_signed_page(request, contact=on_call, ticket=ticket)
    # Backoff 2**attempts seconds: about 2 s after the first failure, 4 s after the second.
    first_gap = requests[1].received_at - requests[0].received_at
    second_gap = requests[2].received_at - requests[1].received_at
    assert first_gap >= 1.5
    assert second_gap >= 3.5
    delivery = sent_delivery(ticket)
    assert delivery.attempts == 3
    assert delivery.response_code == 200
    assert delivery.last_error == ""

    celery_worker_process.wait_idle()
    assert len(webhook_receiver.received()) == 3
    assert page_of(ticket).completed_at is not None
