"""Handing escalations to Celery again when their task may have been lost.

A delivery task is lost when the broker was down at commit (never enqueued), when Redis lost its data
(restarted without persistence), or when the worker that held it died (SIGKILL, out of memory, a lost
host: the message stays unacknowledged in Redis until the visibility timeout, an hour). Two callers:

- `stranded_escalations(before)`: when the broker is back at `before` (a worker of the escalations
  queue (re)connects, or a process whose publishing failed publishes again: sla.tasks), every
  incomplete escalation created and handed over (if ever) before that: whatever the broker held then
  may be gone, and what could not be published was not handed over.
- `pending_escalations(now)`: the sweep, every minute, takes those it inserted at `now`, those never
  handed over once ENQUEUE_GRACE old, and those handed over more than LOST_AFTER ago.

Both leave out an escalation a worker is sending right now (its delivery row is locked; a dead worker's
lock went with its database connection) or whose retry is scheduled (its backoff has not passed).
What remains may still be queued behind other tasks: the duplicate is harmless, `deliver` sends each
recipient one message (sla/escalations.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, Q, QuerySet, When
from django.utils import timezone
from kombu.exceptions import OperationalError

from sla.escalations import waiting_to_retry
from sla.models import DeliveryStatus, Escalation, EscalationDelivery, Level

logger = logging.getLogger(__name__)

#: A fresh escalation's own after-commit task may still be on its way: the sweep leaves it alone this long.
ENQUEUE_GRACE = timedelta(seconds=5)
#: An escalation handed to Celery this long ago and still incomplete, with nobody sending it, is handed
#: over again by the sweep.
LOST_AFTER = timedelta(minutes=2)


def enqueue(escalation_ids: list[int], *, at: datetime) -> int:
    """Hand the escalations to Celery in order and record `at` as when. Stops at the first publishing
    failure (the broker is down: the next sweep picks up the rest). Returns how many were handed over."""
    from sla.tasks import deliver_escalation

    sent = []
    for escalation_id in escalation_ids:
        try:
            deliver_escalation.delay(escalation_id)
        except OperationalError as error:  # the broker is down: said once by helpdesk.outages
            left = len(escalation_ids) - len(sent)
            logger.warning("Broker unavailable (%s); %d escalations wait for the next sweep", error, left)
            break
        except Exception:
            left = len(escalation_ids) - len(sent)
            logger.exception("Not enqueued; %d escalations wait for the next sweep", left)
            break
        sent.append(escalation_id)
    if sent:
        Escalation.objects.filter(pk__in=sent).update(enqueued_at=at)
    return len(sent)


def pending_escalations(now: datetime, *, limit: int) -> list[int]:
    """The sweep's: escalations it inserted at `now`, never handed over and ENQUEUE_GRACE old, or handed
    over more than LOST_AFTER ago; pages first."""
    fresh_or_due = Q(created_at=now) | Q(created_at__lte=now - ENQUEUE_GRACE) | Q(enqueued_at__isnull=False)
    candidates = _incomplete().filter(fresh_or_due).exclude(enqueued_at__gt=now - LOST_AFTER)
    return _idle(list(candidates.values_list("pk", flat=True)[:limit]))


def stranded_escalations(before: datetime, *, limit: int) -> list[int]:
    """When the broker is back at `before`: escalations created, and handed over if ever, before then;
    pages first."""
    candidates = _incomplete().filter(created_at__lt=before).exclude(enqueued_at__gte=before)
    return _idle(list(candidates.values_list("pk", flat=True)[:limit]))


def _incomplete() -> QuerySet[Escalation]:
    return Escalation.objects.filter(completed_at__isnull=True).order_by(
        Case(When(level=Level.PAGE, then=0), default=1), "created_at"
    )


def _idle(escalation_ids: list[int]) -> list[int]:
    """Those of the escalations nobody is sending right now and none of whose recipients waits out a
    retry's backoff, in the same order."""
    if not escalation_ids:
        return []
    deliveries = EscalationDelivery.objects.filter(
        escalation_id__in=escalation_ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    )
    with transaction.atomic():
        # A worker holds the lock on a delivery row while it sends it: SKIP LOCKED returns only the rows
        # nobody is sending.
        unlocked = set(deliveries.select_for_update(skip_locked=True).values_list("pk", flat=True))
    now = timezone.now()
    busy = {
        escalation_id
        for pk, escalation_id, status, attempts, updated_at in deliveries.values_list(
            "pk", "escalation_id", "status", "attempts", "updated_at"
        )
        if pk not in unlocked or waiting_to_retry(status, attempts, updated_at, now)
    }
    return [pk for pk in escalation_ids if pk not in busy]
