"""Ticket filters for the API (django-filter).

A parameter that cannot be read answers 400 naming it (django-filter's form errors, through DRF), never a
500 from deeper down: ids are ASCII digits only (`int()` refuses `²`, which `str.isdigit()` accepts), and a
time is turned into UTC while it is checked (PostgreSQL refuses offsets past ±15:59, and an offset can push
9999-12-31 past the last instant Python can hold).
"""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from sla.models import ClockState, TicketClock
from tickets import search
from tickets.models import Channel, Organization, Severity, Status, Ticket

#: An agent's id as the database can hold it (bigint: at most 19 digits), `me` or `none`.
ASSIGNEE = RegexValidator(
    r"\A(?:me|none|[0-9]{1,18})\Z", "Use an agent's id (digits), `me`, or `none`.", code="invalid"
)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time in ASCII, with or without an offset, returned in UTC; out of range is invalid."""

    default_error_messages = {
        "out_of_range": "This time is out of range once turned into UTC.",
        "not_ascii": "Write the time in ASCII digits (ISO 8601, e.g. 2026-11-26T17:05:00Z).",
    }

    def to_python(self, value):
        if isinstance(value, str) and not value.isascii():
            raise forms.ValidationError(self.error_messages["not_ascii"], code="not_ascii")
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


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
        method="filter_assignee",
        validators=[ASSIGNEE],
        help_text="An agent's id, `me`, or `none` for unassigned tickets.",
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    due_before = UtcDateTimeFilter(
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
        method="filter_search",
        help_text=(
            'Full-text search: a reference (HD-12), an email address, or words ("a phrase", -exclude, '
            "this or that) in the subject, description, intake and conversation. Results come exact "
            "matches first, then by relevance, unless `ordering` is given."
        ),
    )

    class Meta:
        model = Ticket
        fields = ()

    def filter_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        return queryset.filter(assignee_id=int(value))  # digits only: the field's validator

    def filter_sla_state(self, queryset, name, value):
        clocks = TicketClock.objects.filter(ticket=OuterRef("pk"))
        if value == "at_risk":
            clocks = clocks.filter(state=ClockState.ACTIVE, at_risk_at__lte=timezone.now())
        else:
            clocks = clocks.filter(state=value)
        return queryset.filter(Exists(clocks))

    def filter_search(self, queryset, name, value):
        return search.search_tickets(queryset, value, viewer=self.request.user)
