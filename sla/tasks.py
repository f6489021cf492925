"""Celery tasks of the SLA: deliver an escalation, sweep the clocks. Idempotent; ids in, rows reloaded."""

from __future__ import annotations

from celery import shared_task

from sla import escalations
from sla.sweep import sweep as run_sweep

# Deliveries retry with exponential backoff: 2, 4, 8 … seconds, at most 10 minutes apart.
_BACKOFF_BASE = 2
_BACKOFF_MAX = 600


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_escalation(self, escalation_id: int) -> None:
    try:
        escalations.deliver(escalation_id)
    except escalations.DeliveryIncomplete as incomplete:
        raise self.retry(countdown=min(_BACKOFF_BASE**incomplete.attempts, _BACKOFF_MAX)) from incomplete


@shared_task(acks_late=True, expires=55)
def sweep() -> dict:
    """Run by beat every minute; `expires` drops a sweep that waited so long the next one is due."""
    return run_sweep().__dict__
