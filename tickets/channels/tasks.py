"""Celery tasks of the email channel. They sit with the channel, above the domain: the domain's tasks
(tickets/tasks.py) never reach up into a channel."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tickets.channels.email_in import fetch_from
from tickets.channels.mail_sources import source_from_url


# The name it was scheduled under before it moved here: beat's PeriodicTask rows keep naming it.
@shared_task(name="tickets.tasks.fetch_email", acks_late=True, expires=55)
def fetch_email() -> str:
    """Run by beat every minute when EMAIL_IN_URL is set; `expires` drops a run that waited so long the
    next is due. Overlapping runs are harmless: each mail is recorded once by its Message-ID."""
    if not settings.EMAIL_IN_URL:
        return "not configured"
    return str(fetch_from(source_from_url(settings.EMAIL_IN_URL)))
