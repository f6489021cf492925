"""Who is an agent: an active staff user. One definition for every layer: the ticket domain decides who
sees what by it (`tickets.permissions`, which offers it with the rest), and the SLA engine sends an
at-risk warning to a ticket's assignee only while they are one.

`is_agent` for a user in hand, `agents()` and `AGENT_LOOKUP` for queries. (Django's own admin checks
`is_staff` itself, for its own purposes.)
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

#: The filter that selects agents among users, the same rule as `is_agent`.
AGENT_LOOKUP = {"is_staff": True, "is_active": True}


def is_agent(user) -> bool:
    """Whether `user` is an agent: signed in, active and staff."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def agents() -> QuerySet:
    """The agents, as a queryset of users."""
    return get_user_model()._default_manager.filter(**AGENT_LOOKUP)
