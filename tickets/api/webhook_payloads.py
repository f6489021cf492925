"""What outgoing webhooks carry: the ticket and the message as the API shows them (registered with the
domain's outbox, tickets/outgoing_webhooks.py, when the app is ready)."""

from __future__ import annotations

from tickets.api.serializers import MessageSerializer, TicketSerializer
from tickets.models import Message, Ticket
from tickets.outgoing_webhooks import represent_with


@represent_with
def api_representation(ticket: Ticket, message: Message | None) -> dict:
    """`{"ticket": …}`, and `{"message": …}` for a message, in the API's JSON shapes."""
    if message is not None:
        return {"message": MessageSerializer(message).data}
    return {"ticket": TicketSerializer(ticket).data}
