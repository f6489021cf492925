"""The outbox: pages, emails and webhooks kept as rows, written in the transaction of the change that
causes them, and delivered by one engine whatever happened to the broker.

A delivery row (`DeliveryRow`) says what is to be sent and records how it went: `status`, `attempts`,
`last_error`, `response_code`, `next_attempt_at` and `delivered_at`. `attempt()` is the one way a row is
sent, whoever sends it (a Celery task on the fast path, the outbox process, a test):

1. **Lock.** The row is selected FOR UPDATE SKIP LOCKED, unfinished. A row someone else is sending right
   now, or one already sent or given up, is left alone: two senders racing send it once.
2. **Attempt.** The sender's function sends it, inside the lock.
3. **Record.** In the same transaction: sent, with the answer's code and the time; or the error, the code
   if any, and `next_attempt_at` after an exponential backoff (`RetryPolicy`).
4. **Give up.** After the policy's last attempt the row is failed for good.

A sender that dies mid-attempt (SIGKILL, a lost host) leaves the row as it was before the attempt: its
transaction rolls back and its lock dies with its connection, so the row is due again at once. Only then
can a receiver get something twice (the request left, its answer was never recorded); every attempt of a
row carries the same delivery id to deduplicate on.

Who attempts: `enqueue_or_log` hands a row's Celery task to the broker after commit, the fast path. The
outbox process (`manage.py outbox`, helpdesk/pager.py) takes due rows straight from the database, so
what the broker lost, or never got, still goes out; both may run at once, the row lock keeps them apart.
An insert into an outbox table NOTIFYs the process (a trigger, delivered at commit).

This module is infrastructure and knows no domain: the apps register their outboxes (`register`) when
they start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

#: The PostgreSQL channel the outbox tables' triggers NOTIFY (the payload: the outbox's name) and the
#: outbox process LISTENs on.
CHANNEL = "helpdesk_outbox"
#: A retry's timer may fire this early (the clocks of different hosts).
CLOCK_SLACK = timedelta(seconds=1)


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


#: The statuses of a row that is still to be sent.
UNFINISHED = (Status.PENDING, Status.RETRYING)


class DeliveryRow(models.Model):
    """The fields `attempt()` reads and records. Each outbox table adds what it sends, and indexes
    `next_attempt_at` for its unfinished rows (where the outbox process selects the due ones)."""

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # When the next attempt is due: at creation, then after each failure's backoff.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: after its n-th failed attempt a row waits min(base**n, max_delay) seconds;
    the `max_attempts`-th failure gives it up."""

    base: float = 2
    max_delay: float = 600
    max_attempts: int = 6

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.base**attempts, self.max_delay))


class Withdrawn(Exception):
    """Raised by a send function, before it sends anything, when the row must not be sent at all (its
    subscription was disabled, its recipient may no longer read about it): the row is failed with the
    reason, without counting an attempt and without a retry."""


@dataclass(frozen=True)
class Outcome:
    """What `attempt()` did. `status`: sent, retrying, failed (given up), withdrawn, busy (locked by
    another sender, or finished already) or waiting (its backoff has not passed)."""

    status: str
    attempts: int = 0
    #: Seconds until the row is due again (retrying or waiting).
    retry_in: float | None = None

    @property
    def attempted(self) -> bool:
        """Whether the row moved: attempted, or withdrawn."""
        return self.status in ("sent", "retrying", "failed", "withdrawn")


BUSY = Outcome("busy")


def attempt(
    rows: QuerySet,
    pk: int,
    *,
    send: Callable[[Any], int | None],
    policy: RetryPolicy | Callable[[Any], RetryPolicy],
    respect_backoff: bool = True,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[Any, Exception], None] | None = None,
) -> Outcome:
    """Attempt the row `pk` of `rows` once, under its row lock (see the module docstring).

    `send(row)` sends it and returns the receiver's status code (or None), or raises: any exception is a
    failed attempt, `Withdrawn` a decision not to send. `policy` (or `policy(row)`, asked after a failure)
    sets the backoff and the last attempt. With `respect_backoff`, a row whose next attempt is not due
    yet is left alone (a duplicate task, the outbox process finding it); without, it is attempted at once
    (a task's explicit retry). `on_success(row)` and `on_failure(row, error)` run in the transaction.
    """
    with transaction.atomic():
        row = (
            rows.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=pk, status__in=UNFINISHED)
            .first()
        )
        if row is None:
            return BUSY
        now = timezone.now()
        if respect_backoff and row.next_attempt_at > now + CLOCK_SLACK:
            return Outcome("waiting", row.attempts, (row.next_attempt_at - now).total_seconds())
        try:
            code = send(row)
        except Withdrawn as reason:
            row.status = Status.FAILED
            row.last_error = str(reason)[:2000]
            row.save()
            return Outcome("withdrawn", row.attempts)
        except Exception as error:  # noqa: BLE001 - any failure is recorded on the row and retried
            outcome = _failed(row, error, policy if isinstance(policy, RetryPolicy) else policy(row))
            if on_failure is not None:
                on_failure(row, error)
            return outcome
        row.attempts += 1
        row.status = Status.SENT
        row.response_code = code
        row.delivered_at = timezone.now()
        row.last_error = ""
        row.save()
        if on_success is not None:
            on_success(row)
        return Outcome("sent", row.attempts)


def _failed(row: DeliveryRow, error: Exception, policy: RetryPolicy) -> Outcome:
    row.attempts += 1
    row.last_error = str(error)[:2000]
    row.response_code = getattr(error, "status", None)
    logger.warning("%s %s: attempt %d failed: %s", row._meta.label, row.pk, row.attempts, error)
    if row.attempts >= policy.max_attempts:
        row.status = Status.FAILED
        row.save()
        return Outcome("failed", row.attempts)
    delay = policy.delay(row.attempts)
    row.status = Status.RETRYING
    row.next_attempt_at = timezone.now() + delay
    row.save()
    return Outcome("retrying", row.attempts, delay.total_seconds())


def due(rows: QuerySet, now: datetime, limit: int) -> list[int]:
    """The ids of the unfinished rows due at `now`, the longest waiting first, at most `limit`."""
    return list(
        rows.filter(status__in=UNFINISHED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- the outboxes the outbox process serves -----------------------------------------------------------


@dataclass(frozen=True)
class Outbox:
    """One kind of delivery, as the outbox process serves it.

    - `name`: the NOTIFY payload of its table's trigger, and its thread's name.
    - `priority`: lower first, where the process orders anything (escalations 0: pages first of all).
    - `due(now, limit)`: the ids of what is due at `now`, the most urgent first.
    - `deliver(id)`: one attempt at it that respects its backoff; True if it moved (sent, failed,
      finished), False if it was left alone (another sender holds it, or it is not due).
    """

    name: str
    priority: int
    due: Callable[[datetime, int], list[int]]
    deliver: Callable[[int], bool]


_outboxes: dict[str, Outbox] = {}


def register(outbox: Outbox) -> Outbox:
    """Serve `outbox` in the outbox process (the apps call this when they are ready)."""
    _outboxes[outbox.name] = outbox
    return outbox


def registered() -> list[Outbox]:
    """The registered outboxes, by priority."""
    return sorted(_outboxes.values(), key=lambda outbox: (outbox.priority, outbox.name))


# --- the fast path: Celery ----------------------------------------------------------------------------

_fast_path = True


def disable_fast_path() -> None:
    """For the outbox process: hand nothing to Celery. The rows it writes itself (an escalation's
    webhook announcements) are its own to deliver, and a broker that hangs must not hold a page."""
    global _fast_path
    _fast_path = False


def publish(task, *args) -> bool:
    """Hand `task(*args)` to Celery now. False when the broker did not take it: said once per outage by
    helpdesk.outages (a connection error) or logged here (anything else), never raised."""
    if not _fast_path:
        return False
    try:
        task.delay(*args)
    except OperationalError as error:  # the broker is down: helpdesk.outages logs the outage once
        logger.debug("Not enqueued %s%r: %s", task.name, args, error)
        return False
    except Exception:
        logger.exception("Could not enqueue %s%r; the broker may be down", task.name, args)
        return False
    return True


def enqueue_or_log(task, *args, then: Callable[[], None] | None = None) -> None:
    """Hand `task(*args)` to Celery once the current transaction commits (at once outside one), then call
    `then()` if the broker took it. A broker that is down fails nothing: the change is saved, and a task
    that delivers an outbox row leaves the row to the outbox process."""

    def send() -> None:
        if publish(task, *args) and then is not None:
            then()

    transaction.on_commit(send)
