"""Celery tasks of the ticket domain. They take ids, reload rows and tolerate rows that are gone."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

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


@shared_task(acks_late=True, expires=55)
def fetch_email() -> str:
    """Run by beat every minute when EMAIL_IN_URL is set; `expires` drops a run that waited so long the
    next is due. Overlapping runs are harmless: each mail is recorded once by its Message-ID."""
    # Imported here: the channel uses the services, which import this module.
    from tickets.channels.email_in import fetch_from
    from tickets.channels.mail_sources import source_from_url

    if not settings.EMAIL_IN_URL:
        return "not configured"
    return str(fetch_from(source_from_url(settings.EMAIL_IN_URL)))


@shared_task(acks_late=True, expires=3600)
def housekeeping() -> dict:
    """Run by beat once a day (see tickets/housekeeping.py)."""
    from tickets import housekeeping as chores

    return chores.run().__dict__
