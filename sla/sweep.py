"""The SLA sweep (every minute, from Celery beat): set-based, a fixed number of queries however many
tickets are open.

1. Running clocks past their due time are marked breached, and a breach escalation is inserted for each.
2. Running clocks past their warn-at share get an at-risk escalation (once).
3. Open S1 tickets without a page get one (tickets raised to S1 outside the services, imports).
4. The escalations it inserted are handed to Celery (the fast path; the inserts also NOTIFY the outbox
   process). So are, again, those whose delivery may be lost: never handed over (the broker was down at
   commit) and ENQUEUE_GRACE old, or handed over LOST_AFTER ago and still incomplete with nobody sending
   them. The outbox process delivers those within seconds (sla/escalations.py); this is the backstop for
   when it is down too.
Statements 1–3 are single UPDATE / INSERT … SELECT statements; the unique constraint on escalations
makes a concurrent or repeated sweep harmless (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Q, QuerySet, When
from django.utils import timezone

from helpdesk import outbox
from sla.escalations import deliver_escalation
from sla.models import ClockState, Escalation, EscalationDelivery, Level, Metric, TicketClock
from sla.vocabulary import OPEN_STATUSES

logger = logging.getLogger(__name__)

#: At most this many lost deliveries are re-enqueued per sweep; the rest follow a minute later.
REENQUEUE_LIMIT = 500
#: A fresh escalation's own after-commit task may still be on its way: the sweep leaves it alone this long.
ENQUEUE_GRACE = timedelta(seconds=5)
#: An escalation handed to Celery this long ago and still incomplete, with nobody sending it, is handed
#: over again.
LOST_AFTER = timedelta(minutes=2)

_INSERT_ESCALATIONS = """
    INSERT INTO sla_escalation (ticket_id, metric, level, cycle, severity, created_at)
    SELECT c.ticket_id, c.metric, %s, c.cycle, t.severity, %s
    FROM sla_ticketclock c JOIN tickets_ticket t ON t.id = c.ticket_id
    WHERE {condition}
    ON CONFLICT (ticket_id, metric, level, cycle) DO NOTHING
"""

_INSERT_PAGES = """
    INSERT INTO sla_escalation (ticket_id, metric, level, cycle, severity, created_at)
    SELECT t.id, %s, %s, 0, t.severity, %s
    FROM tickets_ticket t
    WHERE t.severity = 'S1' AND t.status IN ({statuses})
    ON CONFLICT (ticket_id, metric, level, cycle) DO NOTHING
"""


@dataclass
class SweepResult:
    breached: int
    at_risk: int
    pages: int
    reenqueued: int


def sweep(now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    with transaction.atomic():
        breached = TicketClock.objects.filter(
            state=ClockState.ACTIVE, paused_at__isnull=True, due_at__lte=now
        ).update(state=ClockState.BREACHED, breached_at=now)
        warned = TicketClock.objects.filter(
            state=ClockState.ACTIVE, warned_at__isnull=True, paused_at__isnull=True, at_risk_at__lte=now
        ).update(warned_at=now)
        # Raw SQL gets no field conversion: pass `now` as the ORM stores it (SQLite keeps naive UTC text,
        # so an aware datetime would neither match breached_at/warned_at nor be stored alike).
        db_now = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_ESCALATIONS.format(condition="c.state = 'breached' AND c.breached_at = %s"),
                [Level.BREACH, db_now, db_now],
            )
            cursor.execute(
                _INSERT_ESCALATIONS.format(condition="c.warned_at = %s AND c.state = 'active'"),
                [Level.AT_RISK, db_now, db_now],
            )
            statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
            cursor.execute(
                _INSERT_PAGES.format(statuses=statuses),
                [Metric.FIRST_RESPONSE, Level.PAGE, db_now, *OPEN_STATUSES],
            )
            pages = cursor.rowcount
    reenqueued = hand_over(pending_escalations(now, limit=REENQUEUE_LIMIT), at=now)
    result = SweepResult(breached=breached, at_risk=warned, pages=max(pages, 0), reenqueued=reenqueued)
    if breached or warned or reenqueued:
        logger.info("SLA sweep at %s: %s", now.isoformat(), result)
    return result


def pending_escalations(now: datetime, *, limit: int) -> list[int]:
    """Escalations the sweep inserted at `now`, never handed over and ENQUEUE_GRACE old, or handed over
    more than LOST_AFTER ago; pages first. Those a sender holds, or whose retry waits out its backoff,
    are left out."""
    fresh_or_due = Q(created_at=now) | Q(created_at__lte=now - ENQUEUE_GRACE) | Q(enqueued_at__isnull=False)
    candidates = _incomplete().filter(fresh_or_due).exclude(enqueued_at__gt=now - LOST_AFTER)
    return _idle(list(candidates.values_list("pk", flat=True)[:limit]))


def hand_over(escalation_ids: list[int], *, at: datetime) -> int:
    """Hand the escalations to Celery in order and record `at` as when. Stops at the first publishing
    failure (the broker is down: the outbox process has them). Returns how many were handed over."""
    sent = []
    for escalation_id in escalation_ids:
        if not outbox.publish(deliver_escalation, escalation_id):
            logger.info("%d escalations not handed to Celery", len(escalation_ids) - len(sent))
            break
        sent.append(escalation_id)
    if sent:
        Escalation.objects.filter(pk__in=sent).update(enqueued_at=at)
    return len(sent)


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
        escalation_id__in=escalation_ids, status__in=outbox.UNFINISHED
    )
    with transaction.atomic():
        # A sender holds the lock on a delivery row while it sends it: SKIP LOCKED returns only the rows
        # nobody is sending.
        unlocked = set(deliveries.select_for_update(skip_locked=True).values_list("pk", flat=True))
    waiting_until = timezone.now() + outbox.CLOCK_SLACK
    busy = {
        escalation_id
        for pk, escalation_id, next_attempt_at in deliveries.values_list(
            "pk", "escalation_id", "next_attempt_at"
        )
        if pk not in unlocked or next_attempt_at > waiting_until
    }
    return [pk for pk in escalation_ids if pk not in busy]
