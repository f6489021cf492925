"""A chat: the customer talking with support live in the portal's chat panel, on one ticket.

The conversation itself is the ticket's (its messages, channel "chat"): a Chat row only says that the
panel is on that ticket, since when, and when the conversation went quiet. A customer who writes again
after that starts a new Chat on the same ticket (a new quiet period, a transcript of its own).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .tickets import Ticket


class Chat(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="chats")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    #: Whether the chat opened its ticket (the ticket's description is its first line).
    opened_ticket = models.BooleanField(default=False)
    #: The customer's last line in the panel. Agents' replies are the ticket's messages; the quiet sweep
    #: reads them from there.
    last_message_at = models.DateTimeField()
    #: When it went quiet: its transcript was queued then, once. A chat in progress has none.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [
            # The Chats queue and the quiet sweep: the chats in progress, oldest first.
            models.Index(fields=["started_at"], condition=Q(ended_at__isnull=True), name="chat_in_progress"),
            models.Index(fields=["customer", "started_at"], name="chat_customer_started"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "customer"],
                condition=Q(ended_at__isnull=True),
                name="one_chat_in_progress_per_ticket",
            )
        ]

    def __str__(self) -> str:
        return f"chat on {self.ticket_id} since {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def in_progress(self) -> bool:
        return self.ended_at is None
