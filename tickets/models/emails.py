"""Notification emails to customers as outbox rows (helpdesk/outbox.py): written in the transaction of the
change they tell about, sent by their task or by the outbox process (tickets/notifications.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from helpdesk import outbox

from .conversation import Message
from .tickets import Ticket


class OutgoingEmail(outbox.DeliveryRow):
    """One notification to a ticket's requester (or, kind AGENT_NOTICE, to an agent about the ticket).
    What it says is composed when it is sent, from the ticket as it is then; its Message-ID is fixed
    when it is queued, so every attempt carries the same."""

    class Kind(models.TextChoices):
        TICKET_RECEIVED = "received", "Ticket received"
        AGENT_REPLY = "reply", "Agent reply"
        STATUS_CHANGED = "status", "Status changed"
        CHAT_TRANSCRIPT = "chat", "Chat transcript"
        AGENT_NOTICE = "agent", "Agent notification"

    Status = outbox.Status

    kind = models.CharField(max_length=8, choices=Kind.choices)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # The status change's `previous` and `current`; a chat transcript's `chat` (a Chat's id); an agent
    # notification's `notification` id.
    data = models.JSONField(default=dict, blank=True)
    msgid = models.CharField("Message-ID", max_length=255)
    recipient = models.CharField(max_length=254, blank=True, help_text="Where it went, when it was sent.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=outbox.UNFINISHED), name="email_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · ticket {self.ticket_id}: {self.get_status_display()}"
