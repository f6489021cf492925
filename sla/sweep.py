"""The SLA sweep (every minute, from Celery beat): set-based, a fixed number of queries however many
tickets are open.

1. Running clocks past their due time are marked breached, and a breach escalation is inserted for each.
2. Running clocks past their warn-at share get an at-risk escalation (once).
3. Open S1 tickets without a page get one (tickets raised to S1 outside the services, imports).
4. Escalations whose delivery task may have been lost are enqueued again: never enqueued (the broker
   was down at commit), or handed over long ago and still incomplete with nobody sending them (the
   worker died holding the task); see sla/recovery.py.
Statements 1–3 are single UPDATE / INSERT … SELECT statements; the unique constraint on escalations
makes a concurrent or repeated sweep harmless (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from sla.models import ClockState, Level, Metric, TicketClock
from sla.recovery import enqueue, pending_escalations
from sla.vocabulary import OPEN_STATUSES

logger = logging.getLogger(__name__)

#: At most this many lost deliveries are re-enqueued per sweep; the rest follow a minute later.
REENQUEUE_LIMIT = 500

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
    reenqueued = enqueue(pending_escalations(now, limit=REENQUEUE_LIMIT), at=now)
    result = SweepResult(breached=breached, at_risk=warned, pages=max(pages, 0), reenqueued=reenqueued)
    if breached or warned or reenqueued:
        logger.info("SLA sweep at %s: %s", now.isoformat(), result)
    return result
