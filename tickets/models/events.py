"""The audit trail: one Event per change to a ticket, written only by `tickets.events`."""

from django.conf import settings
from django.db import models

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

    #: Kinds a customer may see on their ticket's timeline (notes and assignments stay internal).
    PUBLIC_KINDS = (
        Kind.CREATED,
        Kind.STATUS_CHANGED,
        Kind.SEVERITY_CHANGED,
        Kind.REPLIED,
    )

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
