"""The ticket, its structured intake and its interview context."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tickets.permissions import AGENT_LOOKUP, is_agent

from .choices import (
    OPEN_STATUSES,
    AffectedRole,
    Channel,
    ImpactScope,
    Occurrence,
    Severity,
    Status,
)
from .organizations import Organization

REFERENCE_PREFIX = "HD-"
_REFERENCE_RE = re.compile(r"^\s*(?:HD-?)?(\d{1,18})\s*$", re.IGNORECASE)


def parse_reference(value: str) -> int | None:
    """The ticket id in a reference such as ``HD-1042`` (or a bare ``1042``); None if it is not one."""
    match = _REFERENCE_RE.match(value or "")
    return int(match.group(1)) if match else None


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user) -> TicketQuerySet:
        """Agents see every ticket; organization admins their organization's; requesters their own."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if is_agent(user):
            return self
        membership = getattr(user, "membership", None)
        if membership is None:
            return self.none()
        if membership.is_admin:
            return self.filter(organization_id=membership.organization_id)
        return self.filter(requester=user, organization_id=membership.organization_id)

    def by_reference(self, reference: str) -> TicketQuerySet:
        ticket_id = parse_reference(reference)
        return self.filter(pk=ticket_id) if ticket_id is not None else self.none()

    def in_queue_order(self) -> TicketQuerySet:
        """S1 first, then the nearest SLA due time, then the oldest."""
        return self.order_by("severity", models.F("sla_due_at").asc(nulls_last=True), "created_at", "pk")

    def with_list_relations(self) -> TicketQuerySet:
        return self.select_related("organization", "requester", "assignee")


class TicketManager(models.Manager.from_queryset(TicketQuerySet)):
    """Tickets without their search vectors (kilobytes each, read only by PostgreSQL's search): a list
    page read them for every row. A ticket saved after such a read does not write them back either."""

    def get_queryset(self) -> TicketQuerySet:
        return super().get_queryset().defer("search_public", "search_all")


class Ticket(models.Model):
    """A customer's request, with the intake the support FAQ asks for."""

    subject = models.CharField(max_length=200)
    description = models.TextField()
    severity = models.CharField(max_length=2, choices=Severity.choices, default=Severity.S3)
    # What the severity suggestion (tickets.severity_suggestion) said from the intake at creation, and why:
    # the console shows it beside the severity chosen. Blank for tickets filed before it existed.
    suggested_severity = models.CharField(max_length=2, choices=Severity.choices, blank=True, editable=False)
    suggested_severity_reason = models.CharField(max_length=300, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)

    # The composite indexes below start with these columns, so the foreign keys need none of their own.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        db_index=False,
        limit_choices_to=AGENT_LOOKUP,
    )

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The nearest due time among the ticket's running SLA clocks (kept by sla.clocks), for queue order.
    sla_due_at = models.DateTimeField("SLA due", null=True, blank=True, editable=False)
    # The support plan and calendar its clocks count on: its organization's at creation (null: the
    # default policy, and that policy's calendar), changed only by an explicit re-target.
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy", on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    sla_calendar = models.ForeignKey(
        "sla.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    # Who is affected, and how widely.
    affected_role = models.CharField(max_length=16, choices=AffectedRole.choices, blank=True)
    impact_scope = models.CharField(max_length=24, choices=ImpactScope.choices, blank=True)
    # What and where.
    product_area = models.CharField("product section", max_length=120, blank=True)
    feature = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    # When.
    occurrence = models.CharField(max_length=16, choices=Occurrence.choices, blank=True)
    started_at = models.DateTimeField("started at", null=True, blank=True)
    # Why (feature questions and requests).
    reason = models.TextField("why", blank=True)
    # Interview context (the candidates are rows of Candidate).
    interview_interviewers = models.JSONField("interviewers", default=list, blank=True)
    interview_position = models.CharField("position", max_length=200, blank=True)
    interview_template_name = models.CharField("interview template", max_length=200, blank=True)
    interview_template_changes = models.TextField("template modifications", blank=True)
    interview_starts_at = models.DateTimeField("interviews from", null=True, blank=True)
    interview_ends_at = models.DateTimeField("interviews until", null=True, blank=True)

    # What full-text search reads (tickets.search): the ticket's words, weighted (subject A; description,
    # intake and candidates B; conversation C). `search_public` holds the public messages only (what a
    # customer may find), `search_all` internal notes too. Kept by PostgreSQL triggers (migration 0016)
    # whenever the ticket, a message or a candidate changes; unused (null) on SQLite.
    search_public = SearchVectorField(null=True, editable=False)
    search_all = SearchVectorField(null=True, editable=False)

    objects = TicketManager()

    class Meta:
        ordering = ["severity", "created_at", "pk"]
        indexes = [
            # The work queue: open tickets, S1 first, then the oldest.
            models.Index(
                fields=["severity", "created_at"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_queue",
            ),
            # "Unassigned S1/S2" and take-next: open tickets nobody has taken, most urgent first.
            models.Index(
                fields=["severity", "created_at"],
                condition=Q(status__in=OPEN_STATUSES, assignee__isnull=True),
                name="ticket_unassigned_queue",
            ),
            models.Index(
                fields=["status", "severity", "created_at"],
                name="ticket_status_sev_created",
            ),
            # The console's list in queue order, filtered by a status or showing the open ones: read in
            # order from these, never sorted (pending tickets have no due time and sort last).
            models.Index(
                fields=["status", "severity", "sla_due_at", "created_at", "id"],
                name="ticket_status_queue_order",
            ),
            models.Index(
                fields=["severity", "sla_due_at", "created_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_queue_order",
            ),
            # The console's list of open tickets by a clicked column, due time or age, then the queue order
            # (a descending column reads it backwards: TicketChangeList.get_ordering).
            models.Index(
                fields=["sla_due_at", "severity", "created_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_due_order",
            ),
            models.Index(
                fields=["created_at", "severity", "sla_due_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_age_order",
            ),
            # "Is this ticket open?" answered from a small index (the SLA queues' counts ask it per clock).
            models.Index(fields=["id"], condition=Q(status__in=OPEN_STATUSES), name="ticket_open_ids"),
            models.Index(
                fields=["organization", "status", "created_at"],
                name="ticket_org_status_created",
            ),
            models.Index(fields=["requester", "created_at"], name="ticket_requester_created"),
            # The portal's My tickets (a requester's, or an organization's), newest activity first. The
            # included columns are what its scope and status filter read besides: its capped count (up to
            # 1,001 rows) and the search's window read the index alone, not 1,001 rows of the table.
            models.Index(
                fields=["requester", "updated_at"],
                include=["organization", "status"],
                name="ticket_requester_updated",
            ),
            models.Index(
                fields=["organization", "updated_at"],
                include=["requester", "status"],
                name="ticket_org_updated",
            ),
            # My tickets filtered to the open ones: most of a long-standing customer's tickets are closed,
            # and walking their whole history for the first 1,001 open ones cost 35 ms at a million.
            models.Index(
                fields=["requester", "updated_at"],
                include=["organization"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_requester_open",
            ),
            models.Index(
                fields=["organization", "updated_at"],
                include=["requester"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_org_open",
            ),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["channel", "created_at"], name="ticket_channel_created"),
            models.Index(fields=["created_at"], name="ticket_created"),
            # Every ticket in queue order (`in_queue_order()`, the API list's default; a btree sorts nulls
            # last ascending, as that order wants): without it each page sorted the whole table.
            models.Index(fields=["severity", "sla_due_at", "created_at", "id"], name="ticket_queue_order"),
            # The API's other orderings (and `due_before`), read from an index rather than sorted; the due
            # time's also serves the console's list of every ticket by due time (then queue order).
            models.Index(fields=["updated_at"], name="ticket_updated"),
            models.Index(fields=["sla_due_at", "severity", "created_at", "id"], name="ticket_due_order"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="ticket_severity_valid"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="ticket_channel_valid"),
            models.CheckConstraint(
                condition=Q(interview_starts_at__isnull=True)
                | Q(interview_ends_at__isnull=True)
                | Q(interview_ends_at__gte=models.F("interview_starts_at")),
                name="ticket_interview_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def clean(self) -> None:
        if (
            self.interview_starts_at
            and self.interview_ends_at
            and self.interview_ends_at < self.interview_starts_at
        ):
            raise ValidationError(
                {"interview_ends_at": "The end of the interview range is before its start."}
            )

    @property
    def reference(self) -> str:
        return f"{REFERENCE_PREFIX}{self.pk}" if self.pk else ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def severity_definition(self) -> str:
        return Severity(self.severity).definition


class Candidate(models.Model):
    """A candidate whose interview the ticket is about."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="candidates")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["email"], name="candidate_email")]
        constraints = [
            models.CheckConstraint(condition=~Q(name="", email=""), name="candidate_name_or_email"),
        ]

    def __str__(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        return self.name or self.email
