"""Changing a ticket: its details (subject, description, intake, candidates), severity, assignee and
status, through one service.

`ticket_update` is check-then-do: who may ask is checked first, then every change against the locked row,
and only then is anything written: a change refused on one field saves nothing. The changes are made in
one transaction, under one lock, with one SLA pass, in a fixed order (details, severity, assignee,
status) that the audit trail shows. `ticket_update_details`, `ticket_change_severity`, `ticket_assign`
and `ticket_change_status` are its one-field forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from sla.clocks import SlaPass, sla_pass
from tickets import notifications, workflow
from tickets.events import event_record
from tickets.locks import ticket_lock
from tickets.models import Candidate, Event, Severity, Status, Ticket
from tickets.permissions import can_view_ticket, is_agent, require_agent
from tickets.services.tickets import EDITABLE_FIELDS, check_not_closed, clean_candidates, single_line


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: `ticket_update(assignee=...)` left out: None is a change (it unassigns the ticket).
UNSET: Final[Any] = _Unset()


def ticket_update(
    *,
    ticket: Ticket,
    actor,
    details: Mapping | None = None,
    candidates: Iterable[Mapping] | None = None,
    severity: str | None = None,
    assignee=UNSET,
    status: str | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Change what is given, all or nothing, and return the (locked, saved) ticket.

    `details` corrects fields of EDITABLE_FIELDS and `candidates`, when given, replaces the list (agents
    only; a closed ticket's details may still be corrected). `severity` re-grades (agents). `assignee`
    gives the ticket to an active agent, or None takes it off anyone's plate (agents). `status` moves it
    along the workflow: agents between the working statuses, customers only resolve or reopen.

    A severity or status the ticket already has is refused, as is any change but details to a closed
    ticket; an assignee it already has, or details it already has, change nothing and record nothing.
    """
    at = at or timezone.now()
    by_agent = _check_may_update(
        actor,
        ticket,
        details=details is not None or candidates is not None,
        severity=severity is not None,
        assignee=assignee is not UNSET,
        status=status is not None,
    )
    details = _checked_details(details or {})

    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        # Every change is checked against the locked row, in the order they are made, before any is
        # written; the first refused one is the answer.
        changed, new_candidates = _apply_details(ticket, details, candidates)
        if severity is not None:
            if severity not in Severity.values:
                raise ValidationError({"severity": f"“{severity}” is not a severity; use one of S1–S5."})
            check_not_closed(ticket)
            if ticket.severity == severity:
                raise ValidationError({"severity": f"The ticket is already {severity}."})
        if assignee is not UNSET:
            if assignee is not None and not is_agent(assignee):
                raise ValidationError({"assignee": "Tickets can only be assigned to active agents."})
            check_not_closed(ticket)
            if ticket.assignee_id == (assignee.pk if assignee else None):
                assignee = UNSET  # already theirs: nothing to record
        if status is not None:
            workflow.check_transition(ticket.status, status, by_agent=by_agent)
        if not (changed or severity is not None or assignee is not UNSET or status is not None):
            return ticket

        clocks = sla_pass(ticket, at=at)
        if changed:
            if new_candidates is not None:
                ticket.candidates.all().delete()
                Candidate.objects.bulk_create(new_candidates)
            event_record(
                ticket=ticket, kind=Event.Kind.INTAKE_UPDATED, actor=actor, at=at, data={"fields": changed}
            )
        if severity is not None:
            _set_severity(ticket, severity, actor=actor, at=at, clocks=clocks)
        if assignee is not UNSET:
            _set_assignee(ticket, assignee, actor=actor, at=at)
        if status is not None:
            set_status(ticket, status, actor=actor, at=at, clocks=clocks)
        ticket.updated_at = at
        clocks.save(ticket_saved_after=True)
        ticket.save()
    return ticket


def ticket_update_details(
    *,
    ticket: Ticket,
    actor,
    changes: Mapping,
    candidates: Iterable[Mapping] | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Agents correct the subject, description or intake; `candidates`, when given, replaces the list."""
    return ticket_update(ticket=ticket, actor=actor, details=changes, candidates=candidates, at=at)


def ticket_change_severity(*, ticket: Ticket, actor, severity: str, at: datetime | None = None) -> Ticket:
    """Agents re-grade a ticket (customers choose the severity only when they file it)."""
    return ticket_update(ticket=ticket, actor=actor, severity=severity, at=at)


def ticket_assign(*, ticket: Ticket, actor, assignee, at: datetime | None = None) -> Ticket:
    """Give the ticket to an agent, or take it off anyone's plate with `assignee=None`."""
    return ticket_update(ticket=ticket, actor=actor, assignee=assignee, at=at)


def ticket_change_status(*, ticket: Ticket, actor, status: str, at: datetime | None = None) -> Ticket:
    """Move the ticket along the workflow: agents between the working statuses (and close a resolved
    ticket); customers may only resolve their ticket or reopen it."""
    return ticket_update(ticket=ticket, actor=actor, status=status, at=at)


def ticket_take_next(*, agent, at: datetime | None = None) -> Ticket | None:
    """Assign `agent` the most urgent unassigned ticket that needs us (not waiting on the customer).

    The candidate row is locked with SKIP LOCKED, so agents pressing "Take next" at the same moment get
    different tickets instead of waiting for, or overwriting, each other.
    """
    require_agent(agent, "take tickets")
    with transaction.atomic():
        ticket = (
            Ticket.objects.filter(status__in=[Status.NEW, Status.OPEN, Status.ON_HOLD], assignee__isnull=True)
            .in_queue_order()
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if ticket is None:
            return None
        return ticket_assign(ticket=ticket, actor=agent, assignee=agent, at=at)


# --- the steps, on a locked ticket; the caller saves it and the SLA pass ------------------------------


def set_status(
    ticket: Ticket, status: str, *, actor, at: datetime, clocks: SlaPass, reason: str = ""
) -> None:
    """Change the status of a locked ticket, record it and move its clocks."""
    previous = ticket.status
    ticket.status = status
    if status == Status.RESOLVED:
        ticket.resolved_at = at
    elif status == Status.CLOSED:
        ticket.closed_at = at
    else:
        ticket.resolved_at = None
    event_record(
        ticket=ticket,
        kind=Event.Kind.STATUS_CHANGED,
        actor=actor,
        at=at,
        from_value=previous,
        to_value=status,
        data={"reason": reason} if reason else None,
    )
    clocks.status_changed(previous=previous)
    notifications.queue_status_changed(ticket, previous, status)


def _set_severity(ticket: Ticket, severity: str, *, actor, at: datetime, clocks: SlaPass) -> None:
    previous = ticket.severity
    ticket.severity = severity
    event_record(
        ticket=ticket,
        kind=Event.Kind.SEVERITY_CHANGED,
        actor=actor,
        at=at,
        from_value=previous,
        to_value=severity,
    )
    clocks.severity_changed(previous=previous)


def _set_assignee(ticket: Ticket, assignee, *, actor, at: datetime) -> None:
    previous = ticket.assignee
    ticket.assignee = assignee
    event_record(
        ticket=ticket,
        kind=Event.Kind.ASSIGNED,
        actor=actor,
        at=at,
        from_value=previous.get_username() if previous else "",
        to_value=assignee.get_username() if assignee else "",
        data={"from_id": previous.pk if previous else None, "to_id": assignee.pk if assignee else None},
    )


# --- the checks -------------------------------------------------------------------------------------


def _check_may_update(
    actor, ticket: Ticket, *, details: bool, severity: bool, assignee: bool, status: bool
) -> bool:
    """Refuse (PermissionDenied) what `actor` may not change; whether they act as an agent."""
    if details:
        require_agent(actor, "edit a ticket's details")
    if severity:
        require_agent(actor, "change a ticket's severity")
    if assignee:
        require_agent(actor, "assign tickets")
    by_agent = is_agent(actor)
    if status and not by_agent and not can_view_ticket(actor, ticket):
        raise PermissionDenied("You cannot change this ticket.")
    return by_agent


def _checked_details(details: Mapping) -> dict:
    unknown = set(details) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be edited here."))
    if "subject" in details:
        return {**details, "subject": single_line(details["subject"])}
    return dict(details)


def _apply_details(
    ticket: Ticket, details: Mapping, candidates: Iterable[Mapping] | None
) -> tuple[list[str], list[Candidate] | None]:
    """Set the details on the locked ticket (unsaved) and validate it: the names of the fields that
    changed, and the new candidate rows when the list changed."""
    changed = [name for name, value in details.items() if getattr(ticket, name) != value]
    for name in changed:
        setattr(ticket, name, details[name])
    if not details and candidates is None:
        return changed, None
    ticket.full_clean(validate_constraints=False)
    if candidates is None:
        return changed, None
    rows = clean_candidates(candidates)
    current = [(c.name, c.email) for c in ticket.candidates.all()]
    if current == [(c.name, c.email) for c in rows]:
        return changed, None
    for row in rows:
        row.ticket = ticket
    return [*changed, "candidates"], rows
