"""Ticket filters for the API (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q

from sla.models import ClockState, TicketClock
from tickets.models import Candidate, Channel, Organization, Severity, Status, Ticket, parse_reference


class TicketFilter(django_filters.FilterSet):
    # distinct=False: these are columns of the ticket itself, so no row can repeat; django-filter's default
    # SELECT DISTINCT made PostgreSQL sort and compare whole rows (and count them the same way).
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, distinct=False, help_text="S1–S5; repeat for several."
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, distinct=False, help_text="Repeat for several."
    )
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    organization = django_filters.ModelChoiceFilter(queryset=Organization.objects.all())
    assignee = django_filters.CharFilter(
        method="filter_assignee", help_text="An agent's id, `me`, or `none` for unassigned tickets."
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    due_before = django_filters.IsoDateTimeFilter(
        field_name="sla_due_at",
        lookup_expr="lte",
        help_text="Tickets whose nearest SLA due time is at or before this.",
    )
    sla_state = django_filters.ChoiceFilter(
        choices=[(state, state) for state in ClockState.values] + [("at_risk", "at_risk")],
        method="filter_sla_state",
        help_text="Tickets with a clock in this state; `at_risk`: running past its warn-at share.",
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="Reference (HD-12), subject, requester email or candidate email."
    )

    class Meta:
        model = Ticket
        fields = ()

    def filter_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset.none()

    def filter_sla_state(self, queryset, name, value):
        clocks = TicketClock.objects.filter(ticket=OuterRef("pk"))
        if value == "at_risk":
            from django.utils import timezone

            clocks = clocks.filter(state=ClockState.ACTIVE, at_risk_at__lte=timezone.now())
        else:
            clocks = clocks.filter(state=value)
        return queryset.filter(Exists(clocks))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        match = Q(subject__icontains=value) | Q(requester__email__iexact=value)
        match |= Q(Exists(Candidate.objects.filter(ticket=OuterRef("pk"), email__iexact=value)))
        ticket_id = parse_reference(value)
        if ticket_id is not None:
            match |= Q(pk=ticket_id)
        return queryset.filter(match)
