"""The log of mail read by the email channel: one row per Message-ID, which makes re-reading harmless."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .conversation import Message
from .tickets import Ticket


class InboundEmail(models.Model):
    """A mail the email channel has dealt with, and what became of it.

    The unique `message_id` is the idempotency key: a mail read again (a second fetch, two fetchers at
    once, a mailbox restored from backup) finds its row and changes nothing. Mails without a Message-ID
    get a synthetic one from the SHA-256 of their bytes. A mail processed only to the point of finding it
    unreadable is `quarantined`; that row does not block a later, successful attempt.
    """

    class Status(models.TextChoices):
        PROCESSED = "processed", "Processed"
        QUARANTINED = "quarantined", "Quarantined"
        REJECTED = "rejected", "Rejected"

    message_id = models.CharField("Message-ID", max_length=255, unique=True)
    from_address = models.CharField("from", max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_emails"
    )
    # The public reply the mail became (null for a new ticket, whose text is the description). Not named
    # `message`: its column would clash with `message_id`, the header.
    reply = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_emails"
    )
    raw_size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound email"
        indexes = [models.Index(fields=["status", "received_at"], name="inbound_status_received")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["processed", "quarantined", "rejected"]), name="inbound_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.get_status_display()})"
