"""Who is who: agents (staff) and customers (members of an organization).

One definition of an agent, an active staff user (helpdesk/roles.py, below every layer; offered here with
the rest): `is_agent` for a user in hand, `agents()` and `AGENT_LOOKUP` for queries. A staff account,
active or not, is never a customer: see `tickets.services.people`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from helpdesk.roles import AGENT_LOOKUP, agents, is_agent

__all__ = [
    "AGENT_LOOKUP",
    "agents",
    "can_view_ticket",
    "customer_membership",
    "is_agent",
    "require_agent",
]


def customer_membership(user):
    """The user's Membership if they are an active customer, else None."""
    if user is None or not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    return getattr(user, "membership", None)


def require_agent(user, action: str) -> None:
    if not is_agent(user):
        raise PermissionDenied(f"Only agents may {action}.")


def can_view_ticket(user, ticket) -> bool:
    if is_agent(user):
        return True
    membership = customer_membership(user)
    if membership is None or membership.organization_id != ticket.organization_id:
        return False
    return membership.is_admin or ticket.requester_id == user.pk
