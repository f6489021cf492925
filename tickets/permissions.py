"""Who is who: agents (staff) and customers (members of an organization)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


def is_agent(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


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
