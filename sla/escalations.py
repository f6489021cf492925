"""Firing escalations and delivering them to their recipients.

`escalate` records an escalation at most once per ticket, metric, level and cycle (a unique constraint).
Its delivery goes two ways at once: its Celery task is enqueued after commit (the fast path, on the
escalations queue), and the outbox process reads it from the database (the insert NOTIFYs it at commit;
helpdesk/pager.py). `deliver` sends it to every recipient that does not have it yet: each recipient's
delivery row is an outbox row (helpdesk/outbox.py), locked while it is sent and marked sent in the same
transaction, so two senders racing (the task and the outbox process, a task run twice) send one message.

What a recipient can rely on:

- **At least once.** A page does not depend on the broker: with Redis stopped, hung or restarted empty,
  the outbox process sends it within seconds of its commit. A sender that dies mid-attempt (a worker or
  the outbox process killed, out of memory, a lost host) leaves its delivery row as it was, and the row
  lock dies with its database connection: the outbox process takes the row at its next look (each
  second). When only a prefork child dies, Celery requeues the task itself (reject_on_worker_lost).
  Failed attempts are retried with exponential backoff (2, 4, 8 … seconds, at most 10 minutes apart)
  up to the contact's `max_attempts`: by the task's retry or, when that does not come, by the outbox
  process a moment later (OUTBOX_GRACE_SECONDS). The minute sweep hands what is still undelivered to
  Celery again, for when the outbox process is down too (sla/sweep.py).
- **With one delivery id.** Every attempt of a delivery carries the same `X-Helpdesk-Delivery` header
  (`escalation-<escalation id>-<delivery id>`). A receiver gets a page twice only when its sender died
  after the POST left and before the answer was recorded; it can drop the repeat by that id. A sender
  that dies before the POST leaves, or after the answer is recorded, causes no second POST.
- **No duplicate when two senders race.** The row lock (SELECT … FOR UPDATE SKIP LOCKED) lets one of them
  send; the other skips the row, and a retry waiting out its backoff is left to whoever scheduled it.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, OuterRef, Q, When
from django.utils import timezone

from helpdesk import outbox, webhooks
from helpdesk.roles import is_agent
from sla.models import (
    ContactKind,
    Escalation,
    EscalationContact,
    EscalationDelivery,
    Level,
    TicketClock,
)
from sla.signals import escalation_fired

EVENTS = {Level.PAGE: "sla.escalated", Level.AT_RISK: "sla.escalated", Level.BREACH: "sla.breached"}

#: Failed deliveries are retried after 2, 4, 8 … seconds, at most 10 minutes apart, up to the contact's
#: `max_attempts` (this many for a recipient who is no contact: an assignee warned of a risk).
BACKOFF_BASE = 2
BACKOFF_MAX = 600
DEFAULT_MAX_ATTEMPTS = 6


def escalate(*, ticket, metric: str, level: str, at: datetime, cycle: int = 0) -> Escalation | None:
    """Record the escalation unless it was fired before; hand it to Celery after commit. None if it
    existed."""
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                ticket=ticket,
                metric=metric,
                level=level,
                cycle=cycle,
                severity=ticket.severity,
                created_at=at,
            )
    except IntegrityError:
        return None
    enqueue_after_commit(escalation.pk)
    return escalation


def enqueue_after_commit(escalation_id: int) -> None:
    """The fast path: the escalation's task, enqueued after commit; `enqueued_at` records the hand-over."""

    def handed_over() -> None:
        Escalation.objects.filter(pk=escalation_id).update(enqueued_at=timezone.now())

    outbox.enqueue_or_log(deliver_escalation, escalation_id, then=handed_over)


# Registered under the name it always had (sla/tasks.py offers it too): the routes, queued messages and
# the tests know it by that name.
@shared_task(
    name="sla.tasks.deliver_escalation",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def deliver_escalation(self, escalation_id: int) -> None:
    try:
        # A duplicate of a task whose retry is scheduled, or a retry that the outbox process overtook,
        # leaves a delivery alone until its backoff has passed.
        deliver(escalation_id, wait_for_backoff=True)
    except DeliveryIncomplete as incomplete:
        raise self.retry(countdown=incomplete.retry_in) from incomplete


# --- delivery -----------------------------------------------------------------------------------------


class DeliveryIncomplete(Exception):
    """Some recipients failed and will be retried, the first in `retry_in` seconds."""

    def __init__(self, attempts: int, retry_in: float):
        super().__init__(f"delivery incomplete after {attempts} attempt(s)")
        self.attempts = attempts
        self.retry_in = retry_in


def policy(delivery: EscalationDelivery) -> outbox.RetryPolicy:
    """How a recipient's delivery is retried: the backoff above, up to its contact's `max_attempts`."""
    contact = _contact(delivery)
    return outbox.RetryPolicy(
        base=BACKOFF_BASE,
        max_delay=BACKOFF_MAX,
        max_attempts=contact.max_attempts if contact else DEFAULT_MAX_ATTEMPTS,
    )


def deliver(escalation_id: int, *, wait_for_backoff: bool = False) -> bool:
    """Send the escalation to each recipient that does not have it yet. Raises DeliveryIncomplete when a
    recipient failed and has attempts left. With `wait_for_backoff` (a task, the outbox process), a
    recipient whose retry is not due yet is left to the retry scheduled for it. Returns whether anything
    moved: a recipient attempted, or the escalation completed."""
    escalation = (
        Escalation.objects.select_related("ticket__organization", "ticket__assignee")
        .filter(pk=escalation_id)
        .first()
    )
    if escalation is None or escalation.completed_at is not None:
        return False
    _ensure_deliveries(escalation)
    retrying = []
    moved = False
    unfinished = escalation.deliveries.filter(status__in=outbox.UNFINISHED)
    for delivery_id in unfinished.values_list("pk", flat=True):
        outcome = _deliver_one(escalation, delivery_id, wait_for_backoff=wait_for_backoff)
        moved |= outcome.attempted
        if outcome.status == "retrying":
            retrying.append(outcome)
    # After the recipients: a page never waits on the integrations' announcement, whose look-up of the
    # subscriptions in the cache may hang on a Redis that does.
    _announce(escalation)
    if retrying:
        raise DeliveryIncomplete(
            max(outcome.attempts for outcome in retrying), min(outcome.retry_in for outcome in retrying)
        )
    # Complete only when no recipient is left: a delivery skipped above because another sender holds it
    # may yet fail, and that sender's retry must not find the escalation completed.
    completed = (
        Escalation.objects.filter(pk=escalation.pk, completed_at__isnull=True)
        .exclude(deliveries__status__in=outbox.UNFINISHED)
        .update(completed_at=timezone.now())
    )
    return moved or bool(completed)


def _deliver_one(escalation: Escalation, delivery_id: int, *, wait_for_backoff: bool) -> outbox.Outcome:
    """One attempt at one recipient, under its row lock (helpdesk.outbox.attempt)."""
    return outbox.attempt(
        EscalationDelivery.objects,
        delivery_id,
        send=lambda delivery: _send(escalation, delivery, _contact(delivery)),
        policy=policy,
        respect_backoff=wait_for_backoff,
    )


# --- what the outbox process takes --------------------------------------------------------------------


def due(now: datetime, limit: int) -> list[int]:
    """The incomplete escalations with something to send at `now`, S1 pages first, then the oldest: those
    with a delivery due, and those fired by then without one left to send (never attempted yet, or every
    recipient done but the escalation not yet marked complete)."""
    unfinished = EscalationDelivery.objects.filter(escalation=OuterRef("pk"), status__in=outbox.UNFINISHED)
    escalations = (
        Escalation.objects.filter(completed_at__isnull=True)
        .filter(
            Exists(unfinished.filter(next_attempt_at__lte=now))
            | (~Exists(unfinished) & Q(created_at__lte=now))
        )
        .order_by(Case(When(level=Level.PAGE, then=0), default=1), "created_at", "pk")
    )
    return list(escalations.values_list("pk", flat=True)[:limit])


def deliver_due(escalation_id: int) -> bool:
    """The outbox process's attempt: its failures wait for their backoff in the rows, not here."""
    try:
        return deliver(escalation_id, wait_for_backoff=True)
    except DeliveryIncomplete:
        return True


def _announce(escalation: Escalation) -> None:
    """Tell the layers above (the ticket's audit trail, integrations' webhooks): sla.signals."""
    escalation_fired.send(sender=Escalation, escalation=escalation)


def _ensure_deliveries(escalation: Escalation) -> None:
    rows = [
        EscalationDelivery(escalation=escalation, recipient=key, kind=kind, address=address)
        for key, kind, address in recipients(escalation)
    ]
    EscalationDelivery.objects.bulk_create(rows, ignore_conflicts=True)


def recipients(escalation: Escalation) -> list[tuple[str, str, str]]:
    """(key, kind, address) of everyone who gets it: the contacts configured for the level; for an at-risk
    warning on an assigned ticket, the assignee instead of the team — while they are still an active agent
    (a deactivated or demoted account neither can act on it nor may read about the ticket)."""
    ticket = escalation.ticket
    assignee = ticket.assignee
    if escalation.level == Level.AT_RISK and assignee is not None and assignee.email and is_agent(assignee):
        return [(f"user:{ticket.assignee_id}", ContactKind.EMAIL, assignee.email)]
    field = EscalationContact.level_field(escalation.level)
    contacts = EscalationContact.objects.filter(active=True, **{field: True})
    return [
        (f"contact:{c.pk}", c.kind, c.email if c.kind == ContactKind.EMAIL else c.url)
        for c in contacts.order_by("pk")
    ]


def _contact(delivery: EscalationDelivery) -> EscalationContact | None:
    kind, _, pk = delivery.recipient.partition(":")
    return EscalationContact.objects.filter(pk=pk).first() if kind == "contact" else None


def _send(
    escalation: Escalation, delivery: EscalationDelivery, contact: EscalationContact | None
) -> int | None:
    payload = payload_for(escalation)
    if delivery.kind == ContactKind.WEBHOOK:
        result = webhooks.post(
            delivery.address,
            payload,
            secret=contact.secret if contact else "",
            event=EVENTS[escalation.level],
            delivery_id=f"escalation-{escalation.pk}-{delivery.pk}",
            timeout=contact.timeout_seconds if contact else 5,
        )
        return result.status
    ticket = escalation.ticket
    EmailMessage(
        subject=(
            f"[{escalation.get_level_display()}] {ticket.reference} "
            f"{ticket.get_severity_display()}: {ticket.subject}"
        ),
        body=_email_body(escalation, payload),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.address],
    ).send()
    return None


def payload_for(escalation: Escalation) -> dict:
    ticket = escalation.ticket
    clock = TicketClock.objects.filter(ticket=ticket, metric=escalation.metric).first()
    return {
        "event": EVENTS[escalation.level],
        "level": escalation.level,
        "metric": escalation.metric,
        "escalation_id": escalation.pk,
        "fired_at": escalation.created_at,
        "ticket": {
            "reference": ticket.reference,
            "subject": ticket.subject,
            "severity": ticket.severity,
            "status": ticket.status,
            "organization": ticket.organization.name,
            "assignee": ticket.assignee.get_username() if ticket.assignee else None,
            "created_at": ticket.created_at,
            "url": f"{settings.SITE_URL.rstrip('/')}/admin/tickets/ticket/{ticket.pk}/change/",
        },
        "due_at": clock.due_at if clock else None,
    }


def _email_body(escalation: Escalation, payload: dict) -> str:
    ticket = payload["ticket"]
    lines = [
        f"{escalation.get_level_display()}: {escalation.get_metric_display()} on {ticket['reference']}",
        f"Severity {ticket['severity']} · status {ticket['status']} · {ticket['organization']}",
        f"Subject: {ticket['subject']}",
    ]
    if payload["due_at"]:
        lines.append(f"Due: {payload['due_at']:%Y-%m-%d %H:%M:%S} UTC")
    lines.append(f"Open it: {ticket['url']}")
    return "\n".join(lines) + "\n"
