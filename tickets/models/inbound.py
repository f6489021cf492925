"""The log of mail read by the email channel: one row per Message-ID, which makes re-reading harmless."""

from __future__ import annotations

from django.conf import settings
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

    `auth_result` is what the trusted receiving server said of the From address
    (`tickets.channels.mail_auth`). A mail held because its sender is not authenticated is quarantined
    with its bytes in `held_mail`, so an agent can release it from the console; the row of the released
    mail names who did (`released_by`).
    """

    class AuthResult(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        NONE = "none", "None"

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
    # Blank for a mail too broken to read a verdict from.
    auth_result = models.CharField(
        "sender authentication", max_length=4, choices=AuthResult.choices, blank=True
    )
    auth_details = models.CharField("authentication details", max_length=255, blank=True)
    # Only while a mail is held for sender authentication: the release processes these bytes again.
    held_mail = models.BinaryField(null=True, blank=True, editable=False)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

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
