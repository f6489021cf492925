"""Escalations (S1 page, at risk, breach), who receives them, and each delivery's result."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from helpdesk import egress, outbox, webhooks

from .chart import Metric


class Level(models.TextChoices):
    PAGE = "page", "S1 page"
    AT_RISK = "at_risk", "At risk"
    BREACH = "breach", "Breach"


class Escalation(models.Model):
    """Fired at most once per ticket, metric, level (and update cycle), as the unique constraint ensures."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="escalations")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    level = models.CharField(max_length=8, choices=Level.choices)
    cycle = models.PositiveIntegerField(default=0)
    severity = models.CharField(max_length=2)
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When delivery was last handed to Celery."
    )
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When every recipient had it.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric", "level", "cycle"], name="escalate_once"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(completed_at__isnull=True), name="escalation_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} · {self.get_metric_display()} · ticket {self.ticket_id}"


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class EscalationContact(models.Model):
    """Someone (an address) or something (a webhook) notified of escalations of the chosen levels. A
    webhook's secret is write-only: shown once when generated, never displayed again."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    email = models.EmailField(blank=True)
    url = models.URLField("webhook URL", blank=True)
    secret = models.CharField(
        max_length=200, blank=True, help_text="Webhooks: the key of the HMAC-SHA256 signature header."
    )
    on_page = models.BooleanField("S1 pages", default=True)
    on_at_risk = models.BooleanField("at risk", default=False)
    on_breach = models.BooleanField("breaches", default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=5)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="email") & ~Q(email="")) | (Q(kind="webhook") & ~Q(url="")),
                name="contact_has_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.email or self.url})"

    def clean(self) -> None:
        if self.kind == ContactKind.EMAIL and not self.email:
            raise ValidationError({"email": "An email contact needs an address."})
        if self.kind == ContactKind.WEBHOOK and not self.url:
            raise ValidationError({"url": "A webhook contact needs a URL."})
        if self.kind == ContactKind.WEBHOOK:
            try:
                egress.check_url(self.url)
            except ValidationError as error:
                raise ValidationError({"url": error.messages}) from error

    def rotate_secret(self) -> str:
        """Replace the signing secret with a new random one and return it: the only time it is shown."""
        self.secret = webhooks.new_secret()
        self.save(update_fields=["secret"])
        return self.secret

    @staticmethod
    def level_field(level: str) -> str:
        return {Level.PAGE: "on_page", Level.AT_RISK: "on_at_risk", Level.BREACH: "on_breach"}[level]


#: The outbox's statuses (pending, sent, retrying, failed), under the name the SLA has always used.
DeliveryStatus = outbox.Status


class EscalationDelivery(outbox.DeliveryRow):
    """One escalation to one recipient, an outbox row (helpdesk/outbox.py): status, attempts, the last
    result, when the next attempt is due and when it got through."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.CharField(max_length=64, help_text="contact:<id> or user:<id>")
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    address = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["escalation", "pk"]
        verbose_name_plural = "escalation deliveries"
        constraints = [
            models.UniqueConstraint(fields=["escalation", "recipient"], name="deliver_once_per_recipient"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=outbox.UNFINISHED),
                name="escalation_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.address}: {self.get_status_display()}"
