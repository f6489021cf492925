"""Per-ticket SLA clocks: one row per ticket and metric, with its due time stored for SQL queues."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q

from .chart import Clock, Metric


class ClockState(models.TextChoices):
    ACTIVE = "active", "On track"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"


class TicketClock(models.Model):
    """A metric's clock on one ticket.

    Counting starts at `started_at` and stops during the recorded `pauses` (and the open one from
    `paused_at`). While the clock runs, `due_at` and `at_risk_at` are the instants the target and its
    warn-at share are reached; both are null while paused. A breached clock stays breached when the
    target is finally met (`met_at` is set too). `cycle` counts the update-cadence periods of next_update.
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="sla_clocks")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    clock = models.CharField(max_length=8, choices=Clock.choices)
    target_minutes = models.PositiveIntegerField()
    warn_at_percent = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=8, choices=ClockState.choices, default=ClockState.ACTIVE)
    cycle = models.PositiveIntegerField(default=0)

    started_at = models.DateTimeField()
    pauses = models.JSONField(
        default=list, blank=True, help_text="Closed pauses: [[start, end], ...] in ISO 8601."
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    at_risk_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ticket", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric"], name="one_clock_per_ticket_metric"),
            models.CheckConstraint(condition=Q(metric__in=Metric.values), name="clock_metric_valid"),
            models.CheckConstraint(condition=Q(state__in=ClockState.values), name="clock_state_valid"),
        ]
        indexes = [
            # The sweep: running clocks whose due time or warn time has come.
            models.Index(fields=["due_at"], condition=Q(state="active"), name="clock_active_due"),
            models.Index(
                fields=["at_risk_at"],
                condition=Q(state="active", warned_at__isnull=True),
                name="clock_unwarned_risk",
            ),
            # The console's queues: running clocks past their warn time ("At risk") and breached clocks
            # not yet met ("Breached"), read without touching the history of finished tickets.
            models.Index(
                fields=["at_risk_at"],
                include=["ticket", "due_at"],
                condition=Q(state="active", met_at__isnull=True, paused_at__isnull=True),
                name="clock_running_risk",
            ),
            models.Index(
                fields=["ticket"],
                condition=Q(state="breached", met_at__isnull=True),
                name="clock_breached_unmet",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} on {self.ticket_id}: {self.get_state_display()}"

    @property
    def running(self) -> bool:
        return (
            self.paused_at is None
            and self.met_at is None
            and self.state in (ClockState.ACTIVE, ClockState.BREACHED)
        )

    def closed_pauses(self) -> list[tuple[datetime, datetime]]:
        return [(datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in self.pauses]

    def all_pauses(self) -> list[tuple[datetime, datetime | None]]:
        pauses: list[tuple[datetime, datetime | None]] = list(self.closed_pauses())
        if self.paused_at is not None:
            pauses.append((self.paused_at, None))
        return pauses
