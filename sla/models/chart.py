"""The response-target chart, business calendars and holidays: what the SLA promises, editable by staff."""

from __future__ import annotations

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from helpdesk.timezones import DEFAULT_TIMEZONE, validate_timezone
from sla.vocabulary import Severity


class Clock(models.TextChoices):
    ALWAYS = "24x7", "24/7"
    BUSINESS = "business", "Business hours"


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_UPDATE = "next_update", "Next update"
    RESOLUTION = "resolution", "Resolution (workaround)"


class SlaPolicy(models.Model):
    """A support plan: a response-target chart (one row per severity) counted on a business calendar.

    Organizations are put on a policy (none: the default one, `Standard` as shipped). A ticket keeps the
    policy and calendar of its organization at creation; moving an organization to another policy applies
    to its new tickets, and to its open ones only when staff re-target them."""

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(
        default=False, help_text="The policy of every organization that is not put on another one."
    )
    calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="The calendar its business-hour targets count on.",
    )
    description = models.TextField(blank=True, help_text="What the plan offers, shown to its customers.")

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ResponseTarget(models.Model):
    """One row of a policy's chart: the targets for one severity. A null number of minutes sets no target."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    first_response_clock = models.CharField(max_length=8, choices=Clock.choices, default=Clock.BUSINESS)
    update_minutes = models.PositiveIntegerField("update cadence minutes", null=True, blank=True)
    update_clock = models.CharField(max_length=8, choices=Clock.choices, default=Clock.BUSINESS)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_clock = models.CharField(max_length=8, choices=Clock.choices, default=Clock.BUSINESS)
    warn_at_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Escalate as 'at risk' when this share of a target has elapsed.",
    )
    definition = models.TextField(help_text="What this severity means, shown to customers.")

    class Meta:
        ordering = ["policy", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "severity"], name="one_target_per_policy_severity"),
            models.CheckConstraint(
                condition=Q(warn_at_percent__gte=1, warn_at_percent__lte=99), name="target_warn_range"
            ),
            models.CheckConstraint(
                condition=~Q(first_response_minutes=0), name="target_first_response_positive"
            ),
            models.CheckConstraint(condition=~Q(update_minutes=0), name="target_update_positive"),
            models.CheckConstraint(condition=~Q(resolution_minutes=0), name="target_resolution_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} targets"

    _FIELDS = {
        Metric.FIRST_RESPONSE: ("first_response_minutes", "first_response_clock"),
        Metric.NEXT_UPDATE: ("update_minutes", "update_clock"),
        Metric.RESOLUTION: ("resolution_minutes", "resolution_clock"),
    }

    def target(self, metric: str) -> tuple[timedelta, str] | None:
        """(duration, clock) of `metric`, or None when the chart sets no target for it."""
        minutes_field, clock_field = self._FIELDS[metric]
        minutes = getattr(self, minutes_field)
        return None if minutes is None else (timedelta(minutes=minutes), getattr(self, clock_field))


class BusinessCalendar(models.Model):
    """When engineering works: weekly windows in a time zone, minus holidays."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default=DEFAULT_TIMEZONE, validators=[validate_timezone])
    is_default = models.BooleanField(default=False, help_text="The calendar business-hour targets count on.")
    holiday_country = models.CharField(
        max_length=3,
        blank=True,
        default="",
        help_text="Public holidays of this country, every year (ISO 3166-1 code, e.g. US); empty for none.",
    )
    holiday_subdivision = models.CharField(
        max_length=10,
        blank=True,
        default="",
        help_text="A state or region of the country whose holidays apply too (e.g. CA); empty for none.",
    )
    holiday_extras = models.JSONField(
        default=list,
        blank=True,
        help_text="Company holidays beside the country's, every year (e.g. the day after Thanksgiving).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"


class BusinessHours(models.Model):
    """One window of a weekday, [start, end). An end of 00:00 means midnight."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name_plural = "business hours"
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_range"),
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")) | Q(end="00:00:00"), name="hours_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class Holiday(models.Model):
    """A date set by hand on a calendar: a day off added to its rules, or a rule's holiday that is worked."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", "Day off (added)"
        WORKING_DAY = "working_day", "Working day (a rule's holiday removed)"

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=11, choices=Kind.choices, default=Kind.DAY_OFF)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day"),
            models.CheckConstraint(
                condition=Q(kind__in=["day_off", "working_day"]), name="holiday_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        suffix = " (worked)" if self.kind == self.Kind.WORKING_DAY else ""
        return f"{self.date:%Y-%m-%d} {self.name}{suffix}"
