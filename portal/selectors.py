"""Reads for the portal: a customer's tickets, a ticket's public conversation and timeline."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from sla.models import TicketClock
from tickets.models import Attachment, Channel, Event, Message, Status, Ticket, parse_reference


def customer_tickets(
    user, *, scope: str = "mine", status: str = "", severity: str = "", query: str = ""
) -> QuerySet[Ticket]:
    """The tickets a customer may see, filtered. Organization admins choose `scope` "organization"."""
    tickets = Ticket.objects.visible_to(user)
    if scope != "organization":
        tickets = tickets.filter(requester=user)
    if status == "open":
        tickets = tickets.open()
    elif status in Status.values:
        tickets = tickets.filter(status=status)
    if severity:
        tickets = tickets.filter(severity=severity)
    query = query.strip()
    if query:
        ticket_id = parse_reference(query)
        match = Q(subject__icontains=query)
        if ticket_id is not None:
            match |= Q(pk=ticket_id)
        tickets = tickets.filter(match)
    return (
        tickets.select_related("requester")
        .prefetch_related(
            Prefetch("sla_clocks", queryset=TicketClock.objects.filter(metric="first_response"))
        )
        .order_by("-updated_at", "-pk")
    )


def customer_ticket(user, reference: str) -> Ticket | None:
    return (
        Ticket.objects.visible_to(user)
        .by_reference(reference)
        .select_related("organization", "requester")
        .first()
    )


def public_conversation(ticket: Ticket) -> QuerySet[Message]:
    return (
        Message.objects.filter(ticket=ticket, internal=False)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
    )


def ticket_files(ticket: Ticket) -> QuerySet[Attachment]:
    """Files attached when the ticket was filed (not on any message)."""
    return Attachment.objects.filter(ticket=ticket, message__isnull=True)


def public_timeline(ticket: Ticket) -> QuerySet[Event]:
    return Event.objects.filter(
        ticket=ticket, kind__in=[Event.Kind.CREATED, Event.Kind.STATUS_CHANGED, Event.Kind.SEVERITY_CHANGED]
    )


def current_chat(user) -> Ticket | None:
    """The customer's chat in progress: their latest chat ticket that is not resolved or closed, among the
    tickets they may see (a chat left in an organization they have since left stays there)."""
    return (
        Ticket.objects.visible_to(user)
        .filter(requester=user, channel=Channel.CHAT)
        .open()
        .order_by("-created_at")
        .first()
    )
