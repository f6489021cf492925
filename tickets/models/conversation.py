"""The conversation on a ticket: public replies, internal notes, and their attachments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tickets.permissions import is_agent
from tickets.storage import attachment_storage, attachment_upload_to

from .choices import Channel
from .tickets import Ticket


class MessageQuerySet(models.QuerySet):
    def public(self) -> MessageQuerySet:
        return self.filter(internal=False)

    def visible_to(self, user) -> MessageQuerySet:
        """Agents see notes too; customers see the public messages of the tickets they may see."""
        if is_agent(user):
            return self
        return self.public().filter(ticket__in=Ticket.objects.visible_to(user))


class Message(models.Model):
    """A public reply or an internal note (agents only), by a customer, an agent or the system."""

    class AuthorRole(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    author_role = models.CharField(max_length=16, choices=AuthorRole.choices)
    body = models.TextField()
    internal = models.BooleanField(default=False)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    created_at = models.DateTimeField()

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_created")]
        constraints = [
            # Only agents write internal notes.
            models.CheckConstraint(
                condition=Q(internal=False) | Q(author_role="agent"),
                name="message_note_by_agent",
            ),
        ]

    def __str__(self) -> str:
        kind = "note" if self.internal else "reply"
        return f"{kind} on {self.ticket_id} by {self.author_role}"


class AttachmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> AttachmentQuerySet:
        """Agents see all; customers see files on tickets they may see, except those on internal notes."""
        if is_agent(user):
            return self
        return self.filter(ticket__in=Ticket.objects.visible_to(user)).exclude(message__internal=True)


class Attachment(models.Model):
    """A file on a ticket, stored outside any web root and served only through the download view."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        "Message",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
    )
    file = models.FileField(storage=attachment_storage, upload_to=attachment_upload_to, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField()

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="attachment_ticket_created")]

    def __str__(self) -> str:
        return self.original_name
