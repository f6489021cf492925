"""Outgoing webhooks for integrations: ticket.created, ticket.updated, message.created, sla.escalated and
sla.breached, each POSTed to the subscriptions that want it, signed (helpdesk.webhooks), retried with
exponential backoff, and logged. A subscription is disabled after WEBHOOK_DISABLE_AFTER failed attempts
in a row, with the reason.

Delivery is at least once: a receiver deduplicates with the `X-Helpdesk-Delivery` header (or the body's `id`).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk import webhooks
from tickets.models import Ticket
from tickets.models.integrations import WebhookDelivery, WebhookEvent, WebhookSubscription

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 3600
MAX_ATTEMPTS = 8


def emit(event: str, *, ticket: Ticket, key: str, data: dict | None = None) -> None:
    """Dispatch `event` about `ticket` after commit (from within a service's transaction)."""
    from tickets.services.side_effects import after_commit

    after_commit(dispatch, event, ticket.pk, key, data or {})


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def dispatch(event: str, ticket_id: int, key: str, data: dict) -> int:
    """Create one delivery per interested subscription (idempotent) and send each."""
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return 0
    subscriptions = [
        s for s in WebhookSubscription.objects.filter(active=True) if s.wants(event, ticket.organization_id)
    ]
    if not subscriptions:
        return 0
    payload = build_payload(event, ticket, key, data)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(subscription=s, event=event, dedupe_key=key, payload=payload)
            for s in subscriptions
        ],
        ignore_conflicts=True,
    )
    pending = WebhookDelivery.objects.filter(
        subscription__in=subscriptions, dedupe_key=key, status=WebhookDelivery.Status.PENDING
    ).values_list("pk", flat=True)
    for delivery_id in pending:
        deliver.delay(delivery_id)
    return len(pending)


def build_payload(event: str, ticket: Ticket, key: str, data: dict) -> dict:
    from tickets.api.serializers import MessageSerializer, TicketSerializer
    from tickets.models import Message

    ticket = Ticket.objects.prefetch_related("candidates", "sla_clocks").get(pk=ticket.pk)
    body = {"ticket": TicketSerializer(ticket).data}
    if "message_id" in data:
        message = (
            Message.objects.prefetch_related("attachments")
            .filter(pk=data["message_id"], internal=False)
            .first()
        )
        body["message"] = MessageSerializer(message).data if message else None
    body.update({k: v for k, v in data.items() if k != "message_id"})
    return webhooks.json_safe({"id": key, "event": event, "created_at": timezone.now(), "data": body})


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver(self, delivery_id: int) -> str:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (
            WebhookDelivery.Status.SENT,
            WebhookDelivery.Status.FAILED,
        ):
            return "skipped"
        subscription = delivery.subscription
        if not subscription.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "The subscription is disabled."
            delivery.save(update_fields=["status", "last_error"])
            return "disabled"
        delivery.attempts += 1
        try:
            result = webhooks.post(
                subscription.url,
                delivery.payload,
                secret=subscription.secret,
                event=delivery.event,
                delivery_id=f"{delivery.dedupe_key}:{subscription.pk}",
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            )
        except webhooks.WebhookError as exc:
            delivery.last_error = str(exc)[:2000]
            delivery.response_code = exc.status
            delivery.status = (
                WebhookDelivery.Status.FAILED
                if delivery.attempts >= MAX_ATTEMPTS
                else WebhookDelivery.Status.RETRYING
            )
            delivery.save()
            _record_failure(subscription, str(exc))
            retry = delivery.status == WebhookDelivery.Status.RETRYING
        else:
            delivery.status = WebhookDelivery.Status.SENT
            delivery.response_code = result.status
            delivery.delivered_at = timezone.now()
            delivery.last_error = ""
            delivery.save()
            WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
            return "sent"
    if retry:
        raise self.retry(countdown=min(BACKOFF_BASE_SECONDS**delivery.attempts, BACKOFF_MAX_SECONDS))
    return "failed"


def _record_failure(subscription: WebhookSubscription, error: str) -> None:
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


__all__ = ["WebhookEvent", "build_payload", "deliver", "dispatch", "emit"]
