"""The status workflow: which moves agents and customers may make. Pure rules, no database access."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from tickets.models import Status

#: Statuses agents move a ticket between freely.
_WORKING = {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED}

AGENT_TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: set(_WORKING),
    Status.OPEN: _WORKING - {Status.OPEN},
    Status.PENDING: _WORKING - {Status.PENDING},
    Status.ON_HOLD: _WORKING - {Status.ON_HOLD},
    Status.RESOLVED: (_WORKING - {Status.RESOLVED}) | {Status.CLOSED},
    Status.CLOSED: set(),  # final: a later message opens a follow-up ticket
}

# Customers may only say "this is resolved" or "reopen".
CUSTOMER_TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.RESOLVED},
    Status.OPEN: {Status.RESOLVED},
    Status.PENDING: {Status.RESOLVED},
    Status.ON_HOLD: {Status.RESOLVED},
    Status.RESOLVED: {Status.OPEN},
    Status.CLOSED: set(),
}


def allowed_statuses(current: str, *, by_agent: bool) -> set[str]:
    table = AGENT_TRANSITIONS if by_agent else CUSTOMER_TRANSITIONS
    return set(table.get(current, set()))


def check_transition(current: str, new: str, *, by_agent: bool) -> None:
    """Raise a ValidationError on `status` unless the move from `current` to `new` is allowed."""
    if new not in Status.values:
        raise ValidationError({"status": f"“{new}” is not a status."})
    if new == current:
        raise ValidationError({"status": f"The ticket is already {Status(current).label.lower()}."})
    if new not in allowed_statuses(current, by_agent=by_agent):
        who = "An agent" if by_agent else "A customer"
        raise ValidationError(
            {
                "status": f"{who} cannot move a ticket from {Status(current).label.lower()} "
                f"to {Status(new).label.lower()}."
            }
        )
