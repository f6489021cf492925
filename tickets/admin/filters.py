"""List filters of the agent console."""

import re

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from sla.models import ClockState, TicketClock
from tickets.models import OPEN_STATUSES, Severity, Status, Ticket
from tickets.permissions import agents

_AGENT_ID = re.compile(r"[0-9]{1,18}")


class AssigneeFilter(admin.SimpleListFilter):
    """Assigned to me, unassigned, or a given agent."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("me", "Assigned to me"), ("none", "Unassigned")] + [
            (str(agent.pk), agent.get_full_name() or agent.get_username())
            for agent in agents().order_by("username")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        # ASCII digits only (isdigit() takes "²", which int() refuses), as many as a bigint holds
        # (SQLite cannot even be asked about a larger number).
        if value and _AGENT_ID.fullmatch(value):
            return queryset.filter(assignee_id=int(value))
        if value:
            raise IncorrectLookupParameters(f"No agent has the id {value!r}.")
        return queryset


def default_queue(params) -> str:
    """The queue a list shows when none is chosen: "All open", or every ticket when a status is chosen
    (asking for resolved or closed tickets is the one way to see them). `params`: the list's parameters.
    (tickets.inbox matches watched views against new tickets by the same rule.)"""
    return ALL_TICKETS if "status__exact" in params else "open"


#: The queue value that shows tickets of every status, resolved and closed too.
ALL_TICKETS = "all"


class QueueFilter(admin.SimpleListFilter):
    """The work queues, one click each, with their sizes (counted in one query). The list opens on "All
    open" (`default_queue`); resolved and closed tickets show only when asked for."""

    title = "queue"
    parameter_name = "queue"

    QUEUES = (
        ("mine", "My open tickets"),
        ("unassigned_urgent", "Unassigned S1/S2"),
        ("at_risk", "At risk"),
        ("breached", "Breached"),
        ("waiting", "Waiting on customer"),
        ("open", "All open"),
    )

    def __init__(self, request, params, model, model_admin):
        self.default = default_queue(params)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        counts = queue_counts(request.user)
        return [(key, f"{label} ({counts[key]})") for key, label in self.QUEUES] + [
            (ALL_TICKETS, "Any status, closed too")
        ]

    def value(self):
        return super().value() or self.default

    def choices(self, changelist):
        # The admin's "All" (no parameter) is the default queue here, listed under its own name.
        choices = list(super().choices(changelist))
        return choices[1:]

    def queryset(self, request, queryset):
        condition = queue_conditions(request.user).get(self.value())
        return queryset.filter(condition) if condition is not None else queryset


def queue_conditions(user) -> dict[str, Q]:
    """Each queue as a condition on tickets: all are open tickets."""
    now = timezone.now()
    open_ = Q(status__in=OPEN_STATUSES)
    running = TicketClock.objects.filter(ticket=OuterRef("pk"), met_at__isnull=True, paused_at__isnull=True)
    return {
        "mine": open_ & Q(assignee=user),
        "unassigned_urgent": open_ & Q(assignee__isnull=True, severity__in=[Severity.S1, Severity.S2]),
        "at_risk": open_
        & Q(Exists(running.filter(state=ClockState.ACTIVE, at_risk_at__lte=now, due_at__gt=now))),
        "breached": open_
        & Q(
            Exists(
                TicketClock.objects.filter(
                    ticket=OuterRef("pk"), state=ClockState.BREACHED, met_at__isnull=True
                )
            )
        ),
        "waiting": Q(status=Status.PENDING),
        "open": open_,
    }


def queue_counts(user) -> dict[str, int]:
    """Every queue's size in one query. All queues hold open tickets only: the query reads those (through
    the partial index of open tickets), not the closed history, which grows without end."""
    conditions = queue_conditions(user)
    return Ticket.objects.filter(status__in=OPEN_STATUSES).aggregate(
        **{name: Count("pk", filter=condition) for name, condition in conditions.items()}
    )
