"""The SLA dashboard's daily roll-ups: what the tickets and their clocks add up to per UTC day, kept by
PostgreSQL so that the dashboard reads a few thousand rows for a year instead of a year's tickets.

Derived data, never written by the application (tickets/rollups.py explains how they are kept and read):
- `DashboardDay` and `DashboardResponseBucket` are what the dashboard reads. Every row has a scope: the
  whole helpdesk (`organization` null) or one organization, so that the organization filter reads as few
  rows as the unfiltered page.
- `DashboardTicket` is what each ticket counts for in them, as last added: a change is applied by taking
  that away and adding what the ticket counts for now (`DashboardMove` holds those moves while a refresh
  applies them).
- `DashboardStaleTicket` notes the tickets changed since the last refresh (written by triggers).

On SQLite (the embedded mode) the tables stay empty: the dashboard computes its figures from the tickets.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .choices import Channel, Severity
from .organizations import Organization


def _scope():
    """The organization a row counts, or null for all of them. No database constraint: the rows are
    derived, and an organization without tickets may go before its last rows do."""
    return models.ForeignKey(
        Organization,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )


class DashboardDay(models.Model):
    """One UTC day, severity and channel (the ticket's current ones), in one scope.

    `created` counts the tickets created that day; `done` those done that day (resolved, or closed without
    a resolution time: COALESCE(resolved_at, closed_at), as the backlog defines it). The `open_*` columns
    count the tickets created that day that are open now, per status; the clock columns count the
    first-response and resolution clocks of the tickets created that day by outcome: met on time,
    breached (met late or not at all), or still running.
    """

    day = models.DateField()
    organization = _scope()
    severity = models.CharField(max_length=2, choices=Severity.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created = models.IntegerField(default=0)
    done = models.IntegerField(default=0)
    open_new = models.IntegerField(default=0)
    open_open = models.IntegerField(default=0)
    open_pending = models.IntegerField(default=0)
    open_on_hold = models.IntegerField(default=0)
    first_response_met = models.IntegerField(default=0)
    first_response_breached = models.IntegerField(default=0)
    first_response_running = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    resolution_breached = models.IntegerField(default=0)
    resolution_running = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # One row per key and scope (null, all organizations, is one scope): what a refresh adds to
            # (INSERT … ON CONFLICT), and the index the dashboard reads a scope's range of days through.
            models.UniqueConstraint(
                fields=["organization", "day", "severity", "channel"],
                nulls_distinct=False,
                name="dashboard_day_key",
            ),
        ]
        indexes = [
            # "Open now" sums the rows that still count open tickets, not the whole history.
            models.Index(
                fields=["organization", "day"],
                condition=(
                    Q(open_new__gt=0) | Q(open_open__gt=0) | Q(open_pending__gt=0) | Q(open_on_hold__gt=0)
                ),
                name="dashboard_day_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.severity} {self.channel} ({self.organization_id or 'all'})"


class DashboardResponseBucket(models.Model):
    """How many first-response clocks met in a period took a duration within one bucket, per severity
    and scope: a histogram the dashboard reads its median and 90th percentile from.

    Bucket 0 holds durations under a second; bucket k ≥ 1 those from 1.05^(k−1) to 1.05^k seconds (5 %
    wide). A period is a UTC day, or a calendar month (the same durations again, so that a year reads
    twelve months of rows and the days at its ends rather than 365 days of them).
    """

    class Span(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"

    period = models.DateField(help_text="The day, or the first day of the month.")
    span = models.CharField(max_length=5, choices=Span.choices)
    organization = _scope()
    severity = models.CharField(max_length=2, choices=Severity.choices)
    bucket = models.SmallIntegerField()
    count = models.IntegerField()
    seconds = models.FloatField(help_text="The durations' sum: their mean places them within the bucket.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "span", "period", "severity", "bucket"],
                nulls_distinct=False,
                name="dashboard_bucket_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.span} {self.period} {self.severity} #{self.bucket}: {self.count}"


class _Counted(models.Model):
    """What one ticket counts for in the roll-ups: its creation day (created, open now by status, its
    clocks' outcomes), the day it was done, and its first response's day, bucket and duration, under its
    organization, severity and channel. An outcome is `met` (on time), `breached` or `running`; null
    when the ticket has no such clock."""

    day = models.DateField()
    done_day = models.DateField(null=True)
    organization_id = models.BigIntegerField()
    severity = models.CharField(max_length=2)
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=16)
    first_response = models.CharField(max_length=8, null=True)
    resolution = models.CharField(max_length=8, null=True)
    first_response_day = models.DateField(null=True)
    first_response_bucket = models.SmallIntegerField(null=True)
    first_response_seconds = models.FloatField(null=True)

    class Meta:
        abstract = True


class DashboardTicket(_Counted):
    """What a ticket counts for in the roll-ups as they are now (one row per ticket)."""

    ticket_id = models.BigIntegerField(primary_key=True)

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} on {self.day}"


class DashboardMove(_Counted):
    """A ticket's counts taken away (sign −1) or added (+1), while a refresh applies them; empty between
    refreshes."""

    sign = models.SmallIntegerField()

    def __str__(self) -> str:
        return f"{self.sign:+d} on {self.day}"


class DashboardStaleTicket(models.Model):
    """A ticket changed since the last refresh, noted by a trigger on tickets or on their clocks.

    Append-only, duplicates allowed: a unique row would make every transaction that touches the ticket
    wait for the previous one to commit (INSERT … ON CONFLICT waits on an uncommitted twin). The refresh
    deletes the notes it handles."""

    ticket_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}"
