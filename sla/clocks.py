"""Per-ticket SLA clocks, driven by the ticket services (never by views or the admin).

The services call these inside their transaction, with the ticket row locked. One service call is one
`SlaPass` (`sla_pass(ticket, at=...)`): the ticket's clocks are read once, each change the service makes
(severity, an agent's reply, each status it goes through) is applied to them in memory in the order it
is made, and `save` writes each clock that changed once, with the ticket's `sla_due_at` (the nearest
running due time). `sla_ticket_created`, `sla_agent_replied`, `sla_status_changed`,
`sla_severity_changed` and `sla_policy_changed` are passes of one step. A pass fires the escalations
that a change makes due at once (the S1 page, a breach after a severity change).

The engine sits below the ticket domain and never imports it. It knows a ticket by what `ClockedTicket`
lists, its model by the clock's foreign key; a clock that starts late (a severity or policy that sets a
target the old one did not) reads the ticket's past through the `TicketHistory` that the domain
registers when it starts (tickets/apps.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from sla.calendars import calendar_for, response_target
from sla.escalations import escalate
from sla.models import ClockState, Level, Metric, TicketClock
from sla.vocabulary import Severity, Status

#: Statuses a ticket is done in; leaving them reopens it.
_DONE = (Status.RESOLVED, Status.CLOSED)

#: Statuses in which a metric's clock stands still.
PAUSED_IN = {
    Metric.FIRST_RESPONSE: {Status.RESOLVED, Status.CLOSED},
    Metric.NEXT_UPDATE: {Status.PENDING, Status.RESOLVED, Status.CLOSED},
    Metric.RESOLUTION: {Status.PENDING, Status.RESOLVED, Status.CLOSED},
}

#: What a clock's row holds that a pass may change (the ticket and the metric never change).
_FIELDS = tuple(
    field.name
    for field in TicketClock._meta.concrete_fields
    if not field.primary_key and field.name not in ("ticket", "metric")
)


class ClockedTicket(Protocol):
    """What the clocks read of a ticket (the ticket domain's model), and `sla_due_at`, which they keep."""

    pk: int
    severity: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    sla_policy_id: int | None
    sla_calendar_id: int | None
    sla_due_at: datetime | None


class TicketHistory(Protocol):
    """What a clock that starts late reads of its ticket's past. The ticket domain keeps that past (its
    conversation and audit trail) and registers these reads with `read_history_with` when it starts."""

    def first_agent_reply(self, ticket: ClockedTicket) -> datetime | None:
        """When an agent first replied to the customer (not an internal note); None if never."""

    def last_agent_reply(self, ticket: ClockedTicket) -> datetime | None:
        """When an agent last replied to the customer; None if never."""

    def status_changes(self, ticket: ClockedTicket, *, before: datetime) -> Iterable[tuple[datetime, str]]:
        """(when, the status it went to) of each of the ticket's status changes before `before`, in order."""


_history: TicketHistory | None = None


def read_history_with(history: TicketHistory) -> None:
    """Register where late-starting clocks read a ticket's past (the ticket domain, at start-up)."""
    global _history
    _history = history


def _ticket_history() -> TicketHistory:
    if _history is None:
        raise ImproperlyConfigured("No ticket history is registered for the SLA clocks (tickets/apps.py).")
    return _history


def sla_pass(ticket: ClockedTicket, *, at: datetime) -> SlaPass:
    """The clocks of one service call's change to `ticket` (locked by the caller); `save` it at the end."""
    return SlaPass(ticket, at=at)


class SlaPass:
    """One service call's effect on a ticket's clocks.

    Each step sees the ticket as the service has it at that moment (call it right after the change it
    describes), so a pass of several steps ends where the same steps made one by one would: only the
    reads and writes are shared. Nothing is written before `save`, except escalations.
    """

    def __init__(self, ticket: ClockedTicket, *, at: datetime, new_ticket: bool = False):
        self.ticket = ticket
        self.at = at
        # A ticket being created has no clocks yet: nothing to read.
        self._clocks: dict[str, TicketClock] | None = {} if new_ticket else None
        self._as_read: dict[int, tuple] = {}
        self._deleted: list[TicketClock] = []
        #: (metric, cycle) of each clock this pass stopped in time, in order: the service records them.
        self.met: list[tuple[str, int]] = []

    @property
    def clocks(self) -> dict[str, TicketClock]:
        if self._clocks is None:
            self._clocks = {}
            for clock in TicketClock.objects.filter(ticket=self.ticket):
                clock.ticket = self.ticket  # the locked instance, as the steps change it (no join)
                self._clocks[clock.metric] = clock
                self._as_read[clock.pk] = _values(clock)
        return self._clocks

    # --- the steps ------------------------------------------------------------------------------

    def ticket_created(self) -> None:
        """Start first_response and resolution (next_update starts with the first agent reply)."""
        ticket, at = self.ticket, self.at
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
            self._add(_start(ticket, metric, started_at=ticket.created_at, at=at))
        if ticket.severity == Severity.S1:
            escalate(ticket=ticket, metric=Metric.FIRST_RESPONSE, level=Level.PAGE, at=at)

    def agent_replied(self) -> None:
        """A public agent reply meets first_response and next_update, and starts the next update period."""
        ticket, at, clocks = self.ticket, self.at, self.clocks
        first = clocks.get(Metric.FIRST_RESPONSE)
        if first is not None and first.met_at is None:
            self._meet(first)
        update = clocks.get(Metric.NEXT_UPDATE)
        target = _target(ticket, Metric.NEXT_UPDATE)
        if update is not None:
            if target is None:
                self._delete(update)
            else:
                if update.met_at is None:
                    self._meet(update)
                _restart(update, target, started_at=at, next_cycle=True)
                _apply_status(update, ticket.status, at)
        elif target is not None:
            self._add(_start(ticket, Metric.NEXT_UPDATE, started_at=at, at=at))

    def status_changed(self, *, previous: str) -> None:
        """Pause, resume, meet (resolved) or reopen the clocks as the status requires."""
        ticket, at = self.ticket, self.at
        for clock in self.clocks.values():
            if clock.metric == Metric.RESOLUTION:
                if ticket.status == Status.RESOLVED and clock.met_at is None:
                    self._meet(clock)
                elif previous in _DONE and ticket.status not in _DONE:
                    _reopen(clock)  # resumes now, or stays paused if reopened into pending
            _apply_status(clock, ticket.status, at)

    def severity_changed(self, *, previous: str) -> None:
        """Re-target every metric from the ticket's original start, keeping the time already elapsed.

        A metric whose new due time has passed is breached at once; a raise to S1 pages at once.
        """
        ticket, at, clocks = self.ticket, self.at, self.clocks
        for metric in Metric.values:
            target = _target(ticket, metric)
            clock = clocks.get(metric)
            if target is None:
                if clock is not None:
                    self._delete(clock)
                continue
            if clock is None:
                self._add(_start_late(ticket, metric, at=at))
                continue
            clock.target_minutes = int(target[0].total_seconds() // 60)
            clock.clock = target[1]
            clock.warn_at_percent = _warn_at(ticket)
            if clock.met_at is None:
                _schedule(clock)
                _breach_if_overdue(clock, at)
        if ticket.severity == Severity.S1 and previous != Severity.S1:
            escalate(ticket=ticket, metric=Metric.FIRST_RESPONSE, level=Level.PAGE, at=at)

    def policy_changed(self) -> None:
        """The ticket counts on another policy (and its calendar) from now on: re-target every metric from
        the ticket's original start, keeping the time elapsed, as a severity change does. The caller has
        set `ticket.sla_policy` and `ticket.sla_calendar` and saves them."""
        self.severity_changed(previous=self.ticket.severity)

    # --- writing ----------------------------------------------------------------------------------

    def save(self, *, ticket_saved_after: bool = False) -> None:
        """Write the clocks that changed, each once, and keep `ticket.sla_due_at` (the queue's sort key)
        at the nearest due time of a running clock. With `ticket_saved_after` the caller's save of the
        ticket writes `sla_due_at` and no query of its own is made for it."""
        if self._clocks is None:
            return  # no step needed the clocks: nothing changed
        gone = [clock.pk for clock in self._deleted if clock.pk is not None]
        if gone:
            TicketClock.objects.filter(pk__in=gone).delete()
        new = [clock for clock in self._clocks.values() if clock.pk is None]
        if new:
            TicketClock.objects.bulk_create(new)
        added = {id(clock) for clock in new}
        changed, fields = [], set()
        for clock in self._clocks.values():
            if id(clock) in added:
                continue
            before, after = self._as_read[clock.pk], _values(clock)
            differ = {name for name, old, value in zip(_FIELDS, before, after, strict=True) if old != value}
            if differ:
                changed.append(clock)
                fields |= differ
        if len(changed) == 1:
            changed[0].save(update_fields=sorted(fields))
        elif changed:
            TicketClock.objects.bulk_update(changed, sorted(fields))
        self._refresh_due(write=not ticket_saved_after)

    def _refresh_due(self, *, write: bool) -> None:
        due = min(
            (
                clock.due_at
                for clock in self._clocks.values()
                if clock.met_at is None and clock.paused_at is None and clock.due_at is not None
            ),
            default=None,
        )
        if due is not None:
            due = due.astimezone(UTC)  # as the database gives it back
        if due != self.ticket.sla_due_at:
            self.ticket.sla_due_at = due
            if write:
                _tickets().filter(pk=self.ticket.pk).update(sla_due_at=due)

    def _meet(self, clock: TicketClock) -> None:
        _meet(clock, self.at)
        if clock.state == ClockState.MET:  # not when it was met late (a breach stays a breach)
            self.met.append((clock.metric, clock.cycle))

    def _add(self, clock: TicketClock | None) -> None:
        if clock is not None:
            self.clocks[clock.metric] = clock

    def _delete(self, clock: TicketClock) -> None:
        del self.clocks[clock.metric]
        self._deleted.append(clock)


def _values(clock: TicketClock) -> tuple:
    """What `save` compares to find the clocks that changed (a copy: lists are compared by value)."""
    return tuple(
        list(value) if isinstance(value, list) else value for value in map(clock.__dict__.get, _FIELDS)
    )


def sla_ticket_created(ticket: ClockedTicket, *, at: datetime) -> None:
    """Start the clocks of a ticket just saved."""
    change = SlaPass(ticket, at=at, new_ticket=True)
    change.ticket_created()
    change.save()


def sla_agent_replied(ticket: ClockedTicket, *, at: datetime) -> None:
    change = sla_pass(ticket, at=at)
    change.agent_replied()
    change.save()


def sla_status_changed(ticket: ClockedTicket, *, previous: str, at: datetime) -> None:
    change = sla_pass(ticket, at=at)
    change.status_changed(previous=previous)
    change.save()


def sla_severity_changed(ticket: ClockedTicket, *, previous: str, at: datetime) -> None:
    change = sla_pass(ticket, at=at)
    change.severity_changed(previous=previous)
    change.save()


def sla_policy_changed(ticket: ClockedTicket, *, at: datetime) -> None:
    change = sla_pass(ticket, at=at)
    change.policy_changed()
    change.save()


# --- the clock state machine --------------------------------------------------------------------------


def _start(ticket: ClockedTicket, metric: str, *, started_at: datetime, at: datetime) -> TicketClock | None:
    """A new clock for `metric` (unsaved), or None where the chart sets no target."""
    target = _target(ticket, metric)
    if target is None:
        return None
    clock = TicketClock(ticket=ticket, metric=metric, warn_at_percent=_warn_at(ticket))
    _restart(clock, target, started_at=started_at, next_cycle=False)
    _breach_if_overdue(clock, at)
    _apply_status(clock, ticket.status, at)
    return clock


def _start_late(ticket: ClockedTicket, metric: str, *, at: datetime) -> TicketClock | None:
    """A metric the old severity had no target for: count it from when it would have started, minus the
    pauses the ticket's status history implies. One already met (answered, resolved) is recorded as met
    then: like a met clock's, its outcome is not re-judged under the new target. Unsaved; None when it
    has not started (no agent reply yet to count the next update from)."""
    target = _target(ticket, metric)
    history = _ticket_history()
    started_at, met_at = ticket.created_at, None
    if metric == Metric.NEXT_UPDATE:
        started_at = history.last_agent_reply(ticket)
        if started_at is None:
            return None
    elif metric == Metric.FIRST_RESPONSE:
        met_at = history.first_agent_reply(ticket)
    elif ticket.status in _DONE:
        met_at = ticket.resolved_at or at
    clock = TicketClock(ticket=ticket, metric=metric, warn_at_percent=_warn_at(ticket))
    _restart(clock, target, started_at=started_at, next_cycle=False)
    pauses, paused_since = _status_pauses(ticket, metric, since=started_at, until=met_at or at)
    if met_at is not None and paused_since is not None:  # met while paused: the pause ends there
        pauses.append((paused_since, met_at))
        paused_since = None
    clock.pauses = [[start.isoformat(), end.isoformat()] for start, end in pauses]
    clock.paused_at = paused_since
    if paused_since is not None:
        clock.state = ClockState.PAUSED
    _schedule(clock)
    if met_at is not None:
        clock.state, clock.met_at, clock.at_risk_at = ClockState.MET, met_at, None
    else:
        _breach_if_overdue(clock, at)
    return clock


def _status_pauses(
    ticket: ClockedTicket, metric: str, *, since: datetime, until: datetime
) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """From the ticket's history: the spans within [since, until) in which its status paused `metric`, and
    the start of the pause still open at `until` (None if it runs)."""
    changes = _ticket_history().status_changes(ticket, before=until)
    pauses: list[tuple[datetime, datetime]] = []
    pause_start = None  # a ticket starts as new, which pauses nothing
    for changed_at, status in changes:
        if status in PAUSED_IN[metric]:
            if pause_start is None:
                pause_start = max(changed_at, since)
        elif pause_start is not None:
            if changed_at > pause_start:
                pauses.append((pause_start, changed_at))
            pause_start = None
    return pauses, pause_start


def _restart(
    clock: TicketClock, target: tuple[timedelta, str], *, started_at: datetime, next_cycle: bool
) -> None:
    clock.target_minutes = int(target[0].total_seconds() // 60)
    clock.clock = target[1]
    clock.state = ClockState.ACTIVE
    clock.started_at = started_at
    clock.pauses = []
    clock.paused_at = None
    clock.met_at = clock.breached_at = clock.warned_at = None
    if next_cycle:
        clock.cycle += 1
    _schedule(clock)


def _schedule(clock: TicketClock) -> None:
    """Compute the due and warn instants of a running clock (none while paused)."""
    if clock.paused_at is not None:
        clock.due_at = clock.at_risk_at = None
        return
    calendar = calendar_for(clock.clock, clock.ticket.sla_calendar_id)
    target = timedelta(minutes=clock.target_minutes)
    pauses = clock.closed_pauses()
    clock.due_at = calendar.add(clock.started_at, target, pauses)
    clock.at_risk_at = calendar.add(clock.started_at, target * clock.warn_at_percent / 100, pauses)


def _apply_status(clock: TicketClock, status: str, at: datetime) -> None:
    should_pause = status in PAUSED_IN[clock.metric]
    if should_pause and clock.paused_at is None and clock.met_at is None:
        clock.paused_at = at
        if clock.state == ClockState.ACTIVE:
            clock.state = ClockState.PAUSED
        if clock.state == ClockState.PAUSED:
            clock.due_at = clock.at_risk_at = None
    elif not should_pause and clock.paused_at is not None:
        clock.pauses = [*clock.pauses, [clock.paused_at.isoformat(), at.isoformat()]]
        clock.paused_at = None
        if clock.state == ClockState.PAUSED:
            clock.state = ClockState.ACTIVE
        _schedule(clock)  # a breached clock runs on too: it keeps showing the due time it missed
        _breach_if_overdue(clock, at)


def _meet(clock: TicketClock, at: datetime) -> None:
    _breach_if_overdue(clock, at)  # met after its due time, before a sweep noticed: still a breach
    clock.met_at = at
    if clock.state in (ClockState.ACTIVE, ClockState.PAUSED):
        clock.state = ClockState.MET
    if clock.paused_at is not None:  # met while paused (resolved while pending): close the pause
        clock.pauses = [*clock.pauses, [clock.paused_at.isoformat(), at.isoformat()]]
        clock.paused_at = None
    clock.at_risk_at = None


def _reopen(clock: TicketClock) -> None:
    """A reopened ticket's resolution clock resumes; the time it sat resolved is a pause."""
    if clock.met_at is None:
        return
    clock.paused_at = clock.met_at  # counted as paused from the resolution until the resume that follows
    clock.met_at = None
    clock.state = ClockState.BREACHED if clock.breached_at else ClockState.PAUSED
    if clock.state == ClockState.PAUSED:
        clock.due_at = clock.at_risk_at = None


def _breach_if_overdue(clock: TicketClock, at: datetime) -> None:
    if clock.state == ClockState.ACTIVE and clock.due_at is not None and clock.due_at <= at:
        clock.state = ClockState.BREACHED
        clock.breached_at = at
        escalate(ticket=clock.ticket, metric=clock.metric, level=Level.BREACH, cycle=clock.cycle, at=at)
    elif clock.state == ClockState.PAUSED and clock.paused_at is not None:
        calendar = calendar_for(clock.clock, clock.ticket.sla_calendar_id)
        elapsed = calendar.between(clock.started_at, at, clock.all_pauses())
        if elapsed >= timedelta(minutes=clock.target_minutes):
            clock.state = ClockState.BREACHED
            clock.breached_at = at
            escalate(ticket=clock.ticket, metric=clock.metric, level=Level.BREACH, cycle=clock.cycle, at=at)


# --- helpers --------------------------------------------------------------------------------------------


def _tickets():
    """The tickets' manager: the model the clock's foreign key names ("tickets.Ticket")."""
    return TicketClock._meta.get_field("ticket").related_model._default_manager


def _target(ticket: ClockedTicket, metric: str) -> tuple[timedelta, str] | None:
    row = response_target(ticket.severity, ticket.sla_policy_id)
    return None if row is None else row.target(metric)


def _warn_at(ticket: ClockedTicket) -> int:
    row = response_target(ticket.severity, ticket.sla_policy_id)
    return row.warn_at_percent if row is not None else 75
