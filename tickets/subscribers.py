"""The event spine's subscribers (registered in `tickets/apps.py`, in this order):

1. `announce_to_integrations` (in the transaction): the webhook outbox. Each event that leaves the
   helpdesk becomes its webhook event (ticket.created, message.created, ticket.updated, sla.escalated,
   sla.breached), written as delivery rows that commit with the change.
2. `notify_customer` (in the transaction): the notification emails (ticket received, an agent's reply,
   a status change that asks something of the customer or ends the conversation).
3. `tickets.inbox.notify_agents` (in the transaction): the agents' notifications (and their emails, if
   asked for), `tickets.inbox.announce` telling their console pages after commit.
4. `tickets.live_updates.publish` (after commit): live updates, each event announced to the pages that
   may show it (the ticket's, the agents' queues, the organization's lists).

The SLA engine, below this package, tells the spine about escalations with the `sla.signals.escalation_fired`
signal; `record_escalation` turns each into one audit event, dispatched like any other.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from sla.signals import escalation_fired
from tickets import events, inbox, live_updates, notifications, outgoing_webhooks, spine
from tickets.events import EscalationFired, MessageAdded, StatusChanged, payload_of
from tickets.models import Event, Message, Ticket
from tickets.models.integrations import WebhookEvent, WebhookSubscription

Kind = Event.Kind

_SUBSCRIPTIONS_CACHE_KEY = "webhooks:any-active"
_SUBSCRIPTIONS_CACHE_SECONDS = 30

#: The webhook event each kind is announced as; kinds not listed are not announced (SLA met).
_WEBHOOK_EVENTS = {
    Kind.CREATED: WebhookEvent.TICKET_CREATED,
    Kind.REPLIED: WebhookEvent.MESSAGE_CREATED,
    Kind.STATUS_CHANGED: WebhookEvent.TICKET_UPDATED,
    Kind.SEVERITY_CHANGED: WebhookEvent.TICKET_UPDATED,
    Kind.ASSIGNED: WebhookEvent.TICKET_UPDATED,
    Kind.ATTACHMENT_ADDED: WebhookEvent.TICKET_UPDATED,
    Kind.INTAKE_UPDATED: WebhookEvent.TICKET_UPDATED,
    Kind.SLA_POLICY_CHANGED: WebhookEvent.TICKET_UPDATED,
    Kind.SATISFACTION_RATED: WebhookEvent.TICKET_UPDATED,
    Kind.ESCALATED: WebhookEvent.SLA_ESCALATED,
    Kind.SLA_AT_RISK: WebhookEvent.SLA_ESCALATED,
    Kind.SLA_BREACHED: WebhookEvent.SLA_BREACHED,
}


def announce_to_integrations(event: Event) -> None:
    webhook_event = _WEBHOOK_EVENTS.get(event.kind)
    if webhook_event is None or event.is_internal or not subscriptions_exist():
        return
    ticket = event.ticket
    if event.kind == Kind.CREATED:
        outgoing_webhooks.emit(webhook_event, ticket=ticket, key=f"ticket-{ticket.pk}-created")
    elif event.kind == Kind.REPLIED:
        message_id = payload_of(event).message_id
        outgoing_webhooks.emit(
            webhook_event, ticket=ticket, key=f"message-{message_id}", data={"message_id": message_id}
        )
    elif event.kind in EscalationFired.KINDS:
        fired = payload_of(event)
        escalation = {"level": fired.level, "metric": fired.metric, "cycle": fired.cycle}
        outgoing_webhooks.emit(
            webhook_event,
            ticket=ticket,
            key=f"escalation-{fired.escalation_id}",
            data={"escalation": escalation},
        )
    else:
        change = {"kind": event.kind, "from": event.from_value, "to": event.to_value}
        outgoing_webhooks.emit(webhook_event, ticket=ticket, key=f"event-{event.pk}", data={"change": change})


def notify_customer(event: Event) -> None:
    """The notification emails, written as outbox rows with the change (tickets.notifications)."""
    if event.kind == Kind.CREATED:
        notifications.queue_ticket_received(event.ticket)
    elif event.kind == Kind.REPLIED:
        added: MessageAdded = payload_of(event)
        if added.by_agent:
            message = getattr(event, "message", None) or Message.objects.get(pk=added.message_id)
            notifications.queue_agent_reply(message)
    elif event.kind == Kind.STATUS_CHANGED:
        changed: StatusChanged = payload_of(event)
        notifications.queue_status_changed(event.ticket, changed.previous, changed.current)


def record_escalation(sender, *, escalation, **kwargs) -> None:
    """Receiver of `sla.signals.escalation_fired` (sent each time a delivery of the escalation starts,
    by any worker): one audit event per escalation. The ticket's row lock makes two workers delivering the
    same escalation record it once."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=escalation.ticket_id).first()
        if ticket is None:
            return
        kind = EscalationFired.LEVELS[escalation.level]
        recorded = Event.objects.filter(ticket=ticket, kind=kind, data__escalation_id=escalation.pk)
        if not recorded.exists():
            escalation.ticket = ticket
            events.escalation_fired(escalation=escalation, at=timezone.now())


def subscriptions_exist() -> bool:
    """Whether any webhook subscription is active (cached briefly: this runs on every change)."""
    value = cache.get(_SUBSCRIPTIONS_CACHE_KEY)
    if value is None:
        value = WebhookSubscription.objects.filter(active=True).exists()
        cache.set(_SUBSCRIPTIONS_CACHE_KEY, value, _SUBSCRIPTIONS_CACHE_SECONDS)
    return value


def _forget_subscriptions(**kwargs) -> None:
    cache.delete(_SUBSCRIPTIONS_CACHE_KEY)


def connect() -> None:
    """Subscribe to the spine and the SLA engine's signal (from `TicketsConfig.ready`)."""
    spine.subscribe(announce_to_integrations, durable=True)
    spine.subscribe(notify_customer, durable=True)
    inbox.connect()
    live_updates.connect()
    escalation_fired.connect(record_escalation, dispatch_uid="tickets-record-escalation")
    post_save.connect(
        _forget_subscriptions, sender=WebhookSubscription, dispatch_uid="webhooks-any-active-save"
    )
    post_delete.connect(
        _forget_subscriptions, sender=WebhookSubscription, dispatch_uid="webhooks-any-active-delete"
    )
