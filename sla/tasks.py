"""Celery tasks of the SLA: deliver an escalation, sweep the clocks, recover escalations when a worker
(re)connects. Idempotent; ids in, rows reloaded."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import bootsteps, shared_task
from django.conf import settings
from django.utils import timezone

from sla import escalations, recovery
from sla.sweep import REENQUEUE_LIMIT
from sla.sweep import sweep as run_sweep

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_escalation(self, escalation_id: int) -> None:
    try:
        # A retry sends at once; a first run may be a duplicate of a task whose retry is scheduled.
        escalations.deliver(escalation_id, wait_for_backoff=not self.request.retries)
    except escalations.DeliveryIncomplete as incomplete:
        countdown = escalations.retry_delay(incomplete.attempts).total_seconds()
        raise self.retry(countdown=countdown) from incomplete


@shared_task(acks_late=True, expires=55)
def sweep() -> dict:
    """Run by beat every minute; `expires` drops a sweep that waited so long the next one is due."""
    return run_sweep().__dict__


@shared_task(acks_late=True)
def recover_escalations(broker_back_at: str) -> int:
    """Hand to Celery again the incomplete escalations created, and handed over if ever, before
    `broker_back_at` (ISO 8601: when a worker of the escalations queue connected, or a process found the
    broker back) that nobody is sending: what a dead worker held unacknowledged, what Redis lost, what
    could not be published (sla/recovery.py)."""
    stranded = recovery.stranded_escalations(datetime.fromisoformat(broker_back_at), limit=REENQUEUE_LIMIT)
    return recovery.enqueue(stranded, at=timezone.now())


def recover_when_the_broker_is_back(sender, **kwargs) -> None:
    """Receiver of `helpdesk.celery.broker_back` (sla/apps.py connects it): this process could not publish
    for a while, so pages may wait unsent; a worker that kept its connection (Redis hung rather than
    restarted) would not notice."""
    try:
        recover_escalations.delay(timezone.now().isoformat())
    except Exception:
        logger.exception("Could not enqueue the recovery of escalations; the sweep will do it")


class RecoverEscalations(bootsteps.StartStopStep):
    """A worker consumer step (helpdesk/celery.py adds it): each time a worker that consumes the
    escalations queue connects to the broker (at start, and again after a lost connection) it enqueues
    `recover_escalations`, so pages stuck with a killed worker or lost with Redis's data go out within
    seconds instead of after the broker's visibility timeout (an hour) or the sweep."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, consumer) -> None:
        if settings.CELERY_ESCALATION_QUEUE not in consumer.app.amqp.queues.consume_from:
            return
        from helpdesk.celery import broker_outage

        broker_outage(consumer.app).succeeded()  # connected just now: publishing need not wait
        try:
            recover_escalations.delay(timezone.now().isoformat())
        except Exception:
            logger.exception("Could not enqueue the recovery of escalations; the sweep will do it")
