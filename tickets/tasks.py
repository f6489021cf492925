"""Celery tasks of the ticket domain. They take ids, reload rows and tolerate rows that are gone."""

from __future__ import annotations

import logging

from celery import shared_task

from tickets import notifications
from tickets.models import Message, Ticket

logger = logging.getLogger(__name__)

_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "retry_backoff_max": 600, "max_retries": 8}


@shared_task(**_RETRY)
def notify_ticket_received(ticket_id: int) -> None:
    ticket = Ticket.objects.select_related("requester__membership").filter(pk=ticket_id).first()
    if ticket is not None:
        notifications.send_ticket_received(ticket)


@shared_task(**_RETRY)
def notify_agent_reply(message_id: int) -> None:
    message = (
        Message.objects.select_related("ticket__requester__membership")
        .filter(pk=message_id, internal=False)
        .first()
    )
    if message is not None:
        notifications.send_agent_reply(message)


@shared_task(**_RETRY)
def notify_status_changed(ticket_id: int, previous: str, current: str) -> None:
    ticket = Ticket.objects.select_related("requester__membership").filter(pk=ticket_id).first()
    if ticket is not None:
        notifications.send_status_changed(ticket, previous, current)


@shared_task(acks_late=True, expires=3600)
def housekeeping() -> dict:
    """Run by beat once a day (see tickets/housekeeping.py)."""
    from tickets import housekeeping as chores

    return chores.run().__dict__
