"""Outgoing webhooks for integrations: ticket.created, ticket.updated, message.created, sla.escalated and
sla.breached, each POSTed to the subscriptions that want it, signed (helpdesk.webhooks), retried with
exponential backoff, and logged. A subscription is disabled after WEBHOOK_DISABLE_AFTER failed attempts
in a row, with the reason.

Delivery is at least once: a receiver deduplicates with the `X-Helpdesk-Delivery` header (or the body's `id`).
The deliveries are outbox rows (helpdesk/outbox.py): `emit` writes them in the transaction of the change
they announce, so they commit (or roll back) with it, and enqueues their tasks after commit. A delivery
whose task was lost (the broker down at commit, a worker killed mid-attempt) is taken by the outbox
process, which reads due rows from the database; the webhook sweep, run by beat every minute, enqueues
it again if it is still unsent REDELIVER_AFTER past its due time (when the outbox process is down too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk import outbox, webhooks
from tickets.models import Message, Ticket
from tickets.models.integrations import WebhookDelivery, WebhookEvent, WebhookSubscription

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 3600
MAX_ATTEMPTS = 8
#: Failed attempts are retried after 2, 4, 8 … seconds, at most an hour apart, 8 attempts in all.
POLICY = outbox.RetryPolicy(
    base=BACKOFF_BASE_SECONDS, max_delay=BACKOFF_MAX_SECONDS, max_attempts=MAX_ATTEMPTS
)


#: How long past its due time an unsent delivery waits before the sweep takes its task for lost. Longer
#: than a busy worker's backlog, so that the sweep rarely enqueues a task that is merely queued.
REDELIVER_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 1000


def emit(event: str, *, ticket: Ticket, key: str, data: dict | None = None) -> None:
    """Record `event`'s deliveries about `ticket` in the caller's transaction and send them after commit."""
    for delivery_id in record(event, ticket, key, data or {}):
        outbox.enqueue_or_log(deliver, delivery_id)


def record(event: str, ticket: Ticket, key: str, data: dict) -> list[int]:
    """Create one delivery per interested subscription (once per `key`: idempotent). Returns the ids of
    those not yet attempted."""
    subscriptions = [
        s for s in WebhookSubscription.objects.filter(active=True) if s.wants(event, ticket.organization_id)
    ]
    if not subscriptions:
        return []
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(subscription=s, event=event, dedupe_key=key, ticket=ticket, data=data)
            for s in subscriptions
        ],
        ignore_conflicts=True,
    )
    return list(
        WebhookDelivery.objects.filter(
            subscription__in=subscriptions, dedupe_key=key, status=WebhookDelivery.Status.PENDING
        ).values_list("pk", flat=True)
    )


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def dispatch(event: str, ticket_id: int, key: str, data: dict) -> int:
    """Record and send `event`'s deliveries outside a service (e.g. to announce something again by hand).
    Returns how many were enqueued."""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return 0
    pending = record(event, ticket, key, data)
    for delivery_id in pending:
        deliver.delay(delivery_id)
    return len(pending)


@shared_task(acks_late=True, expires=55)
def sweep() -> int:
    """Run by beat every minute; `expires` drops a sweep that waited so long the next one is due."""
    return redeliver_lost()


def redeliver_lost(at: datetime | None = None) -> int:
    """Enqueue again the deliveries whose task was lost: unsent more than REDELIVER_AFTER past their due
    time. Each is pushed back to `at` first, so a delivery is re-enqueued at most every REDELIVER_AFTER.
    Returns how many were enqueued."""
    at = at or timezone.now()
    with transaction.atomic():
        lost = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)  # skip those being attempted now
            .filter(
                status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
                next_attempt_at__lte=at - REDELIVER_AFTER,
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_LIMIT]
        )
        WebhookDelivery.objects.filter(pk__in=lost).update(next_attempt_at=at)
    for delivery_id in lost:
        outbox.publish(deliver, delivery_id)
    if lost:
        logger.warning("Webhook sweep enqueued %d delivery(ies) whose task was lost", len(lost))
    return len(lost)


#: How a ticket and a message look in a payload: the API's representation, so integrations read the same
#: JSON as from the API. The API registers it (tickets/api/webhook_payloads.py, imported when the app is
#: ready), so this domain module needs no import of the API.
_representation: Callable[[Ticket, Message | None], dict] | None = None


def represent_with(function: Callable[[Ticket, Message | None], dict]) -> Callable:
    """Register the function that turns a ticket (and a message, or None) into a payload's `data`."""
    global _representation
    _representation = function
    return function


def build_payload(event: str, ticket: Ticket, key: str, data: dict) -> dict:
    if _representation is None:
        raise ImproperlyConfigured("No webhook payload representation is registered (tickets.api).")
    ticket = Ticket.objects.prefetch_related("candidates", "sla_clocks").get(pk=ticket.pk)
    body = {"ticket": _representation(ticket, None)["ticket"]}
    if "message_id" in data:
        message = (
            Message.objects.prefetch_related("attachments")
            .filter(pk=data["message_id"], internal=False)
            .first()
        )
        body["message"] = _representation(ticket, message)["message"] if message else None
    body.update({k: v for k, v in data.items() if k != "message_id"})
    return webhooks.json_safe({"id": key, "event": event, "created_at": timezone.now(), "data": body})


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver(self, delivery_id: int) -> str:
    """One attempt (helpdesk.outbox.attempt); a failure with attempts left retries after its backoff.
    The first run attempts at once; a retry that finds the outbox process ahead of it (the delivery's
    next attempt not due yet) leaves it to the outbox process. Returns what happened: sent, failed,
    disabled (the subscription was), skipped (sent already, or being sent) or waiting."""
    outcome = attempt(delivery_id, respect_backoff=bool(self.request.retries))
    if outcome.status == "retrying":
        raise self.retry(countdown=outcome.retry_in)
    return {"busy": "skipped", "withdrawn": "disabled"}.get(outcome.status, outcome.status)


def attempt(delivery_id: int, *, respect_backoff: bool = True) -> outbox.Outcome:
    return outbox.attempt(
        WebhookDelivery.objects.select_related("subscription", "ticket"),
        delivery_id,
        send=_post,
        policy=POLICY,
        respect_backoff=respect_backoff,
        on_success=_record_success,
        on_failure=_record_failure,
    )


def _post(delivery: WebhookDelivery) -> int:
    subscription = delivery.subscription
    if not subscription.active:
        raise outbox.Withdrawn("The subscription is disabled.")
    if not delivery.payload:  # the first attempt (deliveries go with their ticket if it is deleted)
        delivery.payload = build_payload(delivery.event, delivery.ticket, delivery.dedupe_key, delivery.data)
    result = webhooks.post(
        subscription.url,
        delivery.payload,
        secret=subscription.secret,
        event=delivery.event,
        delivery_id=f"{delivery.dedupe_key}:{subscription.pk}",
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    return result.status


def _record_success(delivery: WebhookDelivery) -> None:
    WebhookSubscription.objects.filter(pk=delivery.subscription_id).update(consecutive_failures=0)


def due(now: datetime, limit: int) -> list[int]:
    """What the outbox process takes: the deliveries due at `now`, the longest waiting first."""
    return outbox.due(WebhookDelivery.objects, now, limit)


def deliver_due(delivery_id: int) -> bool:
    return attempt(delivery_id).attempted


def _record_failure(delivery: WebhookDelivery, error: Exception) -> None:
    """Count the failure; disable the subscription after WEBHOOK_DISABLE_AFTER in a row, with the reason."""
    subscription = delivery.subscription
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    subscription.refresh_from_db(fields=["consecutive_failures"])
    if subscription.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER:
        WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
            active=False,
            disabled_reason=(
                f"Disabled {timezone.now():%Y-%m-%d %H:%M} UTC after {subscription.consecutive_failures} "
                f"failed attempts in a row; last error: {error}"
            )[:500],
        )
        logger.warning("Webhook subscription %s disabled after repeated failures", subscription.pk)


__all__ = [
    "WebhookEvent",
    "attempt",
    "build_payload",
    "deliver",
    "deliver_due",
    "dispatch",
    "due",
    "emit",
    "record",
    "redeliver_lost",
    "sweep",
]
