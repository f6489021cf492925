"""The audit trail: one Event per change to a ticket, written only by the typed constructors of
`tickets.events`, which also say what each kind's `from_value`, `to_value` and `data` hold."""

from django.conf import settings
from django.db import models

from sla.models import Metric

from .choices import Severity, Status
from .tickets import Ticket


class Event(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        ASSIGNED = "assigned", "Assignee changed"
        REPLIED = "replied", "Public reply"
        NOTE_ADDED = "note_added", "Internal note"
        ATTACHMENT_ADDED = "attachment_added", "Attachment added"
        INTAKE_UPDATED = "intake_updated", "Details updated"
        SLA_POLICY_CHANGED = "sla_policy_changed", "SLA policy changed"
        SLA_MET = "sla_met", "SLA target met"
        SLA_AT_RISK = "sla_at_risk", "SLA target at risk"
        SLA_BREACHED = "sla_breached", "SLA target breached"
        ESCALATED = "escalated", "On-call paged"
        SATISFACTION_RATED = "satisfaction_rated", "Satisfaction rated"

    #: Who may see an event, decided here once for every reader (the portal's timeline, the API, webhooks,
    #: live updates). Customers see only these kinds on their ticket; everything else is for agents.
    PUBLIC_KINDS = (
        Kind.CREATED,
        Kind.STATUS_CHANGED,
        Kind.SEVERITY_CHANGED,
        Kind.REPLIED,
    )
    #: Kinds that never leave the helpdesk (no webhook, no customer): internal notes. An attachment is
    #: internal when it belongs to a note (`data["internal"]`); see `is_internal`.
    INTERNAL_KINDS = (Kind.NOTE_ADDED,)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_created")]

    def __str__(self) -> str:
        change = f": {self.from_value} → {self.to_value}" if self.from_value or self.to_value else ""
        return f"{self.get_kind_display()}{change}"

    @property
    def from_label(self) -> str:
        """`from_value` in words: a status or severity by its label ("Waiting on customer", "S2 High")."""
        return self._label(self.from_value)

    @property
    def to_label(self) -> str:
        return self._label(self.to_value)

    @property
    def change_display(self) -> str:
        """The change in words for every reader (console, portal, emails): "Open → Waiting on customer";
        only the new value where there was none before; "" for a kind that records no values."""
        if self.from_value and self.to_value:
            return f"{self.from_label} → {self.to_label}"
        return self.to_label or self.from_label

    def _label(self, value: str) -> str:
        choices = _VALUE_LABELS.get(self.kind)
        if choices is None or not value:
            return value
        return choices.get(value, value)

    @property
    def is_public(self) -> bool:
        """Whether the ticket's customers may see this event."""
        return self.kind in self.PUBLIC_KINDS

    @property
    def is_internal(self) -> bool:
        """Whether this event must stay inside the helpdesk: agents only, never an integration."""
        return self.kind in self.INTERNAL_KINDS or (
            self.kind == self.Kind.ATTACHMENT_ADDED and bool(self.data.get("internal"))
        )


#: The kinds whose values are codes of a choice, and those choices' labels: the one place a status or a
#: severity code in the audit trail becomes words.
_VALUE_LABELS = {
    Event.Kind.STATUS_CHANGED: dict(Status.choices),
    Event.Kind.SEVERITY_CHANGED: dict(Severity.choices),
    Event.Kind.CREATED: dict(Severity.choices),
    **{
        kind: dict(Metric.choices)
        for kind in (Event.Kind.SLA_MET, Event.Kind.SLA_AT_RISK, Event.Kind.SLA_BREACHED)
    },
    Event.Kind.ESCALATED: dict(Metric.choices),
}
