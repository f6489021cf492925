"""What integrations use: API tokens (optionally limited to one organization), idempotent creates, and
outgoing webhook subscriptions with their delivery log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from helpdesk import egress, outbox, webhooks

from .organizations import Organization

TOKEN_PREFIX_LENGTH = 8


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, *, user, name: str, organization: Organization | None = None) -> tuple[ApiToken, str]:
        """A new token; the key is returned once and only its hash is stored."""
        key = secrets.token_urlsafe(32)
        token = self.create(
            user=user,
            name=name[:100],
            organization=organization,
            prefix=key[:TOKEN_PREFIX_LENGTH],
            key_hash=hash_token(key),
        )
        return token, key


class ApiToken(models.Model):
    """`Authorization: Token <key>`: acts as its user; an organization limits it to that organization."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=TOKEN_PREFIX_LENGTH, help_text="The key's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="Limit the token to this organization's tickets (integrations).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def expires_at(self) -> datetime | None:
        """When the token stops working: API_TOKEN_TTL_DAYS after it was issued (None: never).

        Computed, not stored: a changed setting applies to every token already handed out.
        """
        days = settings.API_TOKEN_TTL_DAYS
        if days <= 0 or self.created_at is None:
            return None
        return self.created_at + timedelta(days=days)

    def has_expired(self, now: datetime | None = None) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and (now or timezone.now()) >= expires_at


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for retries with the same key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated"
    MESSAGE_CREATED = "message.created", "Message created"
    SLA_ESCALATED = "sla.escalated", "SLA escalated"
    SLA_BREACHED = "sla.breached", "SLA breached"


class WebhookSubscription(models.Model):
    """An integration's endpoint for ticket events, signed with its secret; disabled on repeated failure.
    The secret is write-only: shown once when generated, never displayed or returned again."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    events = models.JSONField(default=list, help_text='Event types, e.g. ["ticket.created", "sla.breached"].')
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_subscriptions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["active"], name="webhook_active")]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        try:
            egress.check_url(self.url)
        except ValidationError as error:
            raise ValidationError({"url": error.messages}) from error

    def rotate_secret(self) -> str:
        """Replace the signing secret with a new random one and return it: the only time it is shown."""
        self.secret = webhooks.new_secret()
        self.save(update_fields=["secret"])
        return self.secret

    def wants(self, event: str, organization_id: int) -> bool:
        return self.active and event in self.events and self.organization_id in (None, organization_id)


class WebhookDelivery(outbox.DeliveryRow):
    """One event to one subscription, an outbox row (helpdesk/outbox.py): written in the transaction of
    the change it announces, sent by its task or by the outbox process, retried with backoff."""

    Status = outbox.Status

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    # What happened (e.g. "message-42"): one delivery per subscription and happening, however often the
    # dispatch task runs.
    dedupe_key = models.CharField(max_length=100)
    # What the payload is built from: the ticket and the event's details. The body is built from the
    # committed ticket at the first attempt and kept, so every retry sends the same body.
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, null=True, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "dedupe_key"], name="webhook_deliver_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "retrying"]),
                name="webhook_undelivered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id}: {self.get_status_display()}"
