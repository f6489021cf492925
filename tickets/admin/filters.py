"""List filters of the agent console."""

import re
from collections.abc import Mapping

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from sla.models import ClockState, TicketClock
from tickets.models import OPEN_STATUSES, Organization, Severity, Status, Ticket
from tickets.permissions import agents

_ID = re.compile(r"[0-9]{1,18}")


class AssigneeFilter(admin.SimpleListFilter):
    """Assigned to me, unassigned, or a given agent (their ids and names only)."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        username = get_user_model().USERNAME_FIELD
        names = agents().order_by(username).values_list("pk", "first_name", "last_name", username)
        return [("me", "Assigned to me"), ("none", "Unassigned")] + [
            (str(pk), f"{first} {last}".strip() or login) for pk, first, last, login in names
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        # ASCII digits only (isdigit() takes "²", which int() refuses), as many as a bigint holds
        # (SQLite cannot even be asked about a larger number).
        if value and _ID.fullmatch(value):
            return queryset.filter(assignee_id=int(value))
        if value:
            raise IncorrectLookupParameters(f"No agent has the id {value!r}.")
        return queryset


#: The organization filter lists this many organizations, by name (and the chosen one).
ORGANIZATIONS_LISTED = 50


class OrganizationFilter(admin.SimpleListFilter):
    """The organizations, by name: the first ORGANIZATIONS_LISTED and the chosen one, their ids and names
    read from the names' index whatever the number of customers (the admin's own filter read and listed
    every organization, whole). Any other is reached from its customers' pages ("All tickets of …") or
    by its id in the address, as before (`?organization__id__exact=`)."""

    title = "organization"
    parameter_name = "organization__id__exact"
    template = "admin/tickets/ticket/organization_filter.html"

    def lookups(self, request, model_admin):
        if self.value() is not None and not _ID.fullmatch(self.value()):
            raise IncorrectLookupParameters(f"No organization has the id {self.value()!r}.")
        by_name = Organization.objects.order_by("name").values_list("pk", "name")  # its unique index
        listed = list(by_name[: ORGANIZATIONS_LISTED + 1])
        self.more = len(listed) > ORGANIZATIONS_LISTED
        listed = listed[:ORGANIZATIONS_LISTED]
        chosen = int(self.value()) if self.value() else None
        if chosen is not None and chosen not in {pk for pk, _ in listed}:
            listed = sorted([*listed, *by_name.filter(pk=chosen)], key=lambda row: row[1])
        return listed

    def queryset(self, request, queryset):
        return queryset.filter(organization_id=int(self.value())) if self.value() else queryset


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
        # Counted with the saved views' by the list (TicketAdmin.changelist_view), else here.
        counts = getattr(request, QUEUE_COUNTS, None) or queue_counts(request.user)
        return [(key, f"{label} ({count_label(counts[key])})") for key, label in self.QUEUES] + [
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


#: Where the list keeps the queues' sizes for the request, counted with the sidebar's other numbers.
QUEUE_COUNTS = "_console_queue_counts"

#: Queue sizes are exact up to this; above it a queue says "1,000+" (a count costs what it reads).
QUEUE_COUNT_CAP = 1000


def count_label(count: int, cap: int = QUEUE_COUNT_CAP) -> str:
    return f"{cap:,}+" if count > cap else f"{count:,}"


def queue_counts(
    user,
    more: Mapping[str, tuple[QuerySet, int]] | None = None,
    values: Mapping[str, QuerySet] | None = None,
) -> dict[str, int | None]:
    """Every queue's size, counted no further than QUEUE_COUNT_CAP + 1, in one query (one capped
    subquery per queue). What it costs does not grow with the history nor with the backlog: each
    subquery reads at most QUEUE_COUNT_CAP + 1 rows through an index — the SLA queues from the clocks'
    partial indexes of running and breached clocks (then each ticket by its key), the others from the
    tickets' indexes of open tickets, of assignees and of unassigned open tickets.

    `more`: other rows to count in the same query, by name, each with its cap (the saved views' tickets,
    the unread notifications: tickets/admin/workspace.py); `values`: single values read in it too (the
    newest event's id). The list's sidebar and header cost one query however many views it lists."""
    sources = {name: (rows, QUEUE_COUNT_CAP) for name, rows in _queue_count_sources(user).items()}
    sources.update(more or {})
    parts, params = [], []
    for index, (rows, cap) in enumerate(sources.values()):
        try:
            sql, sql_params = rows[: cap + 1].query.sql_with_params()
        except EmptyResultSet:  # known to be empty without asking (a search that matched nothing)
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS rows_{index})")  # noqa: S608 - Django's SQL
        params.extend(sql_params)
    for rows in (values or {}).values():
        sql, sql_params = rows[:1].query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        row = cursor.fetchone()
    return dict(zip([*sources, *(values or {})], row, strict=True))


#: The queues counted from the clocks' indexes rather than from the tickets'.
CLOCK_QUEUES = ("at_risk", "breached")


def _queue_count_sources(user) -> dict:
    """Each queue as the rows to count: ticket ids. The SLA queues read clocks (each from its index
    alone; a breached clock, which stays breached when its ticket is resolved, then whether its ticket
    is open), a ticket once however many of its clocks are late: the breached clocks' index is in ticket
    order, so that costs nothing; the at-risk ones are few (clocks between their warn time and their due
    time)."""
    conditions = queue_conditions(user)
    now = timezone.now()
    # (The SLA queues' own conditions are not built into querysets here: they are counted from clocks.)
    sources = {
        name: Ticket.objects.filter(condition).order_by().values("pk") if name not in CLOCK_QUEUES else None
        for name, condition in conditions.items()
    }
    # "Is its ticket open?" as a scalar subquery per clock, not a join: PostgreSQL then reads the clocks'
    # index and probes the small index of open tickets' ids until it has enough, where a join hashed every
    # breached clock first.
    open_ticket = Ticket.objects.filter(pk=OuterRef("ticket_id"), status__in=OPEN_STATUSES).order_by()
    open_clocks = (
        TicketClock.objects.annotate(open_ticket=Subquery(open_ticket.values("pk")[:1]))
        .filter(open_ticket__isnull=False)
        .order_by()
    )
    # A running clock (neither met nor paused) is always an open ticket's: the SLA engine pauses every
    # clock of a ticket that is resolved or closed (sla.clocks.PAUSED_IN). So the at-risk clocks are read
    # from their index alone, without asking each one's ticket (6,300 probes at a million: 50 ms).
    sources["at_risk"] = (
        TicketClock.objects.order_by()
        .filter(
            state=ClockState.ACTIVE,
            met_at__isnull=True,
            paused_at__isnull=True,
            at_risk_at__lte=now,
            due_at__gt=now,
        )
        .values("ticket_id")
        .distinct()
    )
    sources["breached"] = (
        open_clocks.filter(state=ClockState.BREACHED, met_at__isnull=True).values("ticket_id").distinct()
    )
    return sources
