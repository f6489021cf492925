"""Reads for the portal: a customer's tickets (their chat is read by `tickets.chats`). A ticket's
conversation, files and timeline come from `tickets.selectors`, which the console and the API share
(one rule for what a customer sees)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from sla.models import TicketClock
from tickets import search
from tickets.models import Status, Ticket


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
    tickets = tickets.select_related("requester").prefetch_related(
        Prefetch("sla_clocks", queryset=TicketClock.objects.filter(metric="first_response"))
    )
    if query.strip():
        # The same search as the console's, over what customers may read (no internal notes).
        return search.search_tickets(tickets, query, viewer=user)
    return tickets.order_by("-updated_at", "-pk")


def customer_ticket(user, reference: str) -> Ticket | None:
    return (
        Ticket.objects.visible_to(user)
        .by_reference(reference)
        .select_related("organization", "requester")
        .first()
    )
