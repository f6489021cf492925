"""Celery tasks of the SLA: deliver an escalation (defined beside the delivery, sla/escalations.py, under
this module's name) and sweep the clocks. Idempotent; ids in, rows reloaded."""

from __future__ import annotations

from celery import shared_task

from sla.escalations import deliver_escalation
from sla.sweep import sweep as run_sweep

__all__ = ["deliver_escalation", "sweep"]


@shared_task(acks_late=True, expires=55)
def sweep() -> dict:
    """Run by beat every minute; `expires` drops a sweep that waited so long the next one is due."""
    return run_sweep().__dict__
