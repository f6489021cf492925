"""Outgoing webhooks with a real Celery worker on Redis and the test database on PostgreSQL: at least once,
signed, even when the broker was down as the change committed (DESIGN.md: integrations)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from helpdesk import webhooks
from tests.factories import PASSWORD
from tests.sla import conftest as real_services
from tests.sla.conftest import wait_until
from tickets import outgoing_webhooks
from tickets.models.integrations import WebhookDelivery, WebhookSubscription
from tickets.services import ticket_create

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

# The real worker and receiver of the SLA tests.
celery_worker_process = real_services.celery_worker_process
webhook_receiver = real_services.webhook_receiver

SECRET = "integration-secret-0123456789"
DEADLINE = 10.0


@pytest.fixture
def subscription(webhook_receiver) -> WebhookSubscription:
    owner = get_user_model().objects.create_superuser("integrator", "int@example.com", PASSWORD)
    return WebhookSubscription.objects.create(
        url=webhook_receiver.url, secret=SECRET, events=["ticket.created"], created_by=owner
    )


def test_a_ticket_created_while_the_broker_is_down_reaches_the_receiver_once(
    celery_worker_process, webhook_receiver, subscription, requester
):
    with celery_worker_process.broker_unreachable():
        ticket = ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")

    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert delivery.status == "pending"  # saved with the ticket; its task never reached the broker
    celery_worker_process.wait_idle()
    assert webhook_receiver.received() == []

    swept = outgoing_webhooks.redeliver_lost(delivery.next_attempt_at + outgoing_webhooks.REDELIVER_AFTER)

    assert swept == 1
    (request,) = webhook_receiver.wait_for(1, timeout=DEADLINE)
    assert webhooks.verify(
        SECRET,
        request.header(webhooks.TIMESTAMP_HEADER),
        request.body,
        request.header(webhooks.SIGNATURE_HEADER),
    )
    assert request.json()["data"]["ticket"]["reference"] == ticket.reference
    assert request.header(webhooks.DELIVERY_HEADER) == f"ticket-{ticket.pk}-created:{subscription.pk}"
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, status="sent").exists(),
        timeout=DEADLINE,
        message="the delivery was not marked sent",
    )
    celery_worker_process.wait_idle()
    assert len(webhook_receiver.received()) == 1
