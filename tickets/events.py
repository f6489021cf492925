"""Writing the audit trail. Services call these; nothing else creates Event rows.

Each event is also what integrations hear about: it is mapped to a webhook event (ticket.created,
message.created, ticket.updated) and dispatched after commit when any subscription is active.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from tickets.models import Event, Ticket
from tickets.models.integrations import WebhookEvent, WebhookSubscription
from tickets.outgoing_webhooks import emit

_SUBSCRIPTIONS_CACHE_KEY = "webhooks:any-active"
_SUBSCRIPTIONS_CACHE_SECONDS = 30


def event_record(
    *,
    ticket: Ticket,
    kind: Event.Kind,
    actor=None,
    at: datetime,
    from_value: Any = "",
    to_value: Any = "",
    data: dict | None = None,
) -> Event:
    event = Event.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        from_value=_text(from_value),
        to_value=_text(to_value),
        data=data or {},
        created_at=at,
    )
    _announce(event)
    return event


def _announce(event: Event) -> None:
    if event.kind == Event.Kind.NOTE_ADDED or (
        event.kind == Event.Kind.ATTACHMENT_ADDED and event.data.get("internal")
    ):
        return  # internal: never leaves the helpdesk
    if not subscriptions_exist():
        return
    if event.kind == Event.Kind.CREATED:
        emit(WebhookEvent.TICKET_CREATED, ticket=event.ticket, key=f"ticket-{event.ticket_id}-created")
    elif event.kind == Event.Kind.REPLIED:
        message_id = event.data.get("message_id")
        emit(
            WebhookEvent.MESSAGE_CREATED,
            ticket=event.ticket,
            key=f"message-{message_id}",
            data={"message_id": message_id},
        )
    else:
        change = {"kind": event.kind, "from": event.from_value, "to": event.to_value}
        emit(
            WebhookEvent.TICKET_UPDATED, ticket=event.ticket, key=f"event-{event.pk}", data={"change": change}
        )


def subscriptions_exist() -> bool:
    """Whether any webhook subscription is active (cached briefly: this runs on every change)."""
    value = cache.get(_SUBSCRIPTIONS_CACHE_KEY)
    if value is None:
        value = WebhookSubscription.objects.filter(active=True).exists()
        cache.set(_SUBSCRIPTIONS_CACHE_KEY, value, _SUBSCRIPTIONS_CACHE_SECONDS)
    return value


def _forget_subscriptions(**kwargs) -> None:
    cache.delete(_SUBSCRIPTIONS_CACHE_KEY)


post_save.connect(_forget_subscriptions, sender=WebhookSubscription, dispatch_uid="webhooks-any-active-save")
post_delete.connect(
    _forget_subscriptions, sender=WebhookSubscription, dispatch_uid="webhooks-any-active-delete"
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:200]
