"""Firing escalations and delivering them to their recipients.

`escalate` records an escalation at most once per ticket, metric, level and cycle (a unique constraint)
and hands its delivery to Celery after commit. `deliver` sends it to every recipient that does not have
it yet: each recipient's delivery row is locked while it is sent and marked sent in the same
transaction, so two workers running the same task, or a task run twice, send one message; a delivery
waiting out its retry backoff is left to the retry that is scheduled for it.

What a recipient can rely on:

- **At least once.** A task whose worker dies (SIGKILL, out of memory, a lost host) is neither
  acknowledged nor finished, and its row lock dies with its database connection. sla/recovery.py
  hands such escalations to Celery again whenever the broker is back: a worker of the escalations queue
  (re)connects, so a restarted pager sends within seconds what its predecessor held and a Redis that
  restarts empty loses nothing; or a process whose publishing failed publishes again. The sweep does it
  every minute for escalations handed over long ago. None of them touches an escalation whose delivery
  row is locked (a live worker is sending it right now) or whose retry is scheduled. When only a
  prefork child dies, Celery requeues the task itself (reject_on_worker_lost).
- **With one delivery id.** Every attempt of a delivery carries the same `X-Helpdesk-Delivery` header
  (`escalation-<escalation id>-<delivery id>`). A receiver gets a page twice only when the worker died
  after the POST left and before the answer was recorded; it can drop the repeat by that id. A worker
  that dies before the POST leaves, or after the answer is recorded, causes no second POST.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from helpdesk import webhooks
from helpdesk.roles import is_agent
from sla.models import (
    ContactKind,
    DeliveryStatus,
    Escalation,
    EscalationContact,
    EscalationDelivery,
    Level,
    TicketClock,
)
from sla.signals import escalation_fired

logger = logging.getLogger(__name__)

EVENTS = {Level.PAGE: "sla.escalated", Level.AT_RISK: "sla.escalated", Level.BREACH: "sla.breached"}

#: Failed deliveries are retried after 2, 4, 8 … seconds, at most 10 minutes apart.
_BACKOFF_BASE = 2
_BACKOFF_MAX = 600
#: A retry's timer may fire this early (clocks of different worker hosts).
_CLOCK_SLACK = timedelta(seconds=1)


def escalate(*, ticket, metric: str, level: str, at: datetime, cycle: int = 0) -> Escalation | None:
    """Record the escalation unless it was fired before; deliver it after commit. None if it existed."""
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
    from sla.tasks import deliver_escalation

    def send() -> None:
        try:
            deliver_escalation.delay(escalation_id)
        except OperationalError as error:  # the broker is down: said once by helpdesk.outages
            logger.warning("Escalation %s not enqueued (%s); the sweep will retry", escalation_id, error)
            return
        except Exception:
            logger.exception("Could not enqueue escalation %s; the sweep will retry", escalation_id)
            return
        Escalation.objects.filter(pk=escalation_id).update(enqueued_at=timezone.now())

    transaction.on_commit(send)


# --- delivery --------------------------------------------------------------------------------------


class DeliveryIncomplete(Exception):
    """Some recipients failed and will be retried."""

    def __init__(self, attempts: int):
        super().__init__(f"delivery incomplete after {attempts} attempt(s)")
        self.attempts = attempts


def retry_delay(attempts: int) -> timedelta:
    """How long a delivery that failed `attempts` times waits before its next attempt."""
    return timedelta(seconds=min(_BACKOFF_BASE**attempts, _BACKOFF_MAX))


def waiting_to_retry(status: str, attempts: int, updated_at: datetime, now: datetime) -> bool:
    """Whether a delivery failed and its backoff has not passed: a retry is scheduled for it."""
    return status == DeliveryStatus.RETRYING and updated_at + retry_delay(attempts) > now + _CLOCK_SLACK


def deliver(escalation_id: int, *, wait_for_backoff: bool = False) -> None:
    """Send the escalation to each recipient that does not have it yet. Raises DeliveryIncomplete when a
    recipient failed and has attempts left (the task retries with backoff). With `wait_for_backoff` (a
    task's first run, which may be a duplicate), a recipient that failed before is left to the retry
    scheduled for it until its backoff has passed."""
    escalation = (
        Escalation.objects.select_related("ticket__organization", "ticket__assignee")
        .filter(pk=escalation_id)
        .first()
    )
    if escalation is None or escalation.completed_at is not None:
        return
    _announce(escalation)
    _ensure_deliveries(escalation)
    retry_attempts = 0
    for delivery_id in escalation.deliveries.exclude(
        status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED]
    ).values_list("pk", flat=True):
        attempts = _deliver_one(escalation, delivery_id, wait_for_backoff=wait_for_backoff)
        if attempts is not None:
            retry_attempts = max(retry_attempts, attempts)
    if retry_attempts:
        raise DeliveryIncomplete(retry_attempts)
    # Complete only when no recipient is left: a delivery skipped above because another worker holds it
    # may yet fail, and that worker's retry must not find the escalation completed.
    Escalation.objects.filter(pk=escalation.pk, completed_at__isnull=True).exclude(
        deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(completed_at=timezone.now())


def _deliver_one(escalation: Escalation, delivery_id: int, *, wait_for_backoff: bool) -> int | None:
    """Deliver under a row lock. Returns the attempt count if it failed and should be retried."""
    with transaction.atomic():
        delivery = (
            EscalationDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id)
            .exclude(status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED])
            .first()
        )
        if delivery is None:  # sent meanwhile, or another worker holds it right now
            return None
        if wait_for_backoff and waiting_to_retry(
            delivery.status, delivery.attempts, delivery.updated_at, timezone.now()
        ):
            return None  # the retry scheduled for it sends it after the backoff
        contact = _contact(delivery)
        delivery.attempts += 1
        try:
            delivery.response_code = _send(escalation, delivery, contact)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the delivery and retried
            delivery.last_error = str(exc)[:2000]
            delivery.response_code = getattr(exc, "status", None)
            max_attempts = contact.max_attempts if contact else 6
            delivery.status = (
                DeliveryStatus.FAILED if delivery.attempts >= max_attempts else DeliveryStatus.RETRYING
            )
            delivery.save()
            logger.warning("Escalation %s to %s failed: %s", escalation.pk, delivery.address, exc)
            return delivery.attempts if delivery.status == DeliveryStatus.RETRYING else None
        delivery.status = DeliveryStatus.SENT
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
        delivery.save()
        return None


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
