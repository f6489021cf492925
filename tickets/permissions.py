"""Who is who: agents (staff) and customers (members of an organization).

One definition of an agent, an active staff user: `is_agent` for a user in hand, `agents()` and
`AGENT_LOOKUP` for queries. (Django's own admin checks `is_staff` itself, for its own purposes; and a
staff account, active or not, is never a customer: see `tickets.services.people`.)
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

#: The filter that selects agents among users, the same rule as `is_agent`.
AGENT_LOOKUP = {"is_staff": True, "is_active": True}


def is_agent(user) -> bool:
    """Whether `user` is an agent: signed in, active and staff."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def agents() -> QuerySet:
    """The agents, as a queryset of users."""
    return get_user_model()._default_manager.filter(**AGENT_LOOKUP)


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
