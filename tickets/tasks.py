"""Celery tasks of the ticket domain. They take ids, reload rows and tolerate rows that are gone.

The notification emails' task is `tickets.notifications.send_email` (an outbox row's fast path), the
webhooks' are in tickets/outgoing_webhooks.py, the email fetch in tickets/channels/tasks.py.
"""

from __future__ import annotations

from celery import shared_task

from tickets import housekeeping as chores
from tickets import rollups, services


@shared_task(acks_late=True, expires=3600)
def housekeeping() -> dict:
    """Run by beat once a day (see tickets/housekeeping.py)."""
    return chores.run().__dict__


@shared_task(acks_late=True, expires=120)
def end_quiet_chats() -> int:
    """Run by beat every minute: chats with no message for CHAT_QUIET_MINUTES get their transcript
    mailed, once (tickets.services.chats.chats_end_quiet)."""
    return services.chats_end_quiet()


@shared_task(acks_late=True, expires=120)
def refresh_dashboard() -> int:
    """Run by beat every minute: the SLA dashboard's roll-ups of the days that changed since the last
    refresh (tickets/rollups.py); the number of days recomputed. Nothing to do on SQLite."""
    return rollups.refresh() if rollups.available() else 0
