"""The read side of a ticket, shared by the console, the API and the portal.

Each function returns a queryset (still lazy: callers slice, filter or paginate it) with the relations
its readers display already joined or prefetched. Who may see what is decided here, by one rule per
kind of row, so the three faces cannot drift apart:

- **Messages**: agents see internal notes too; customers only public messages.
- **Attachments**: customers do not see the files of internal notes.
- **Events**: customers see `Event.PUBLIC_KINDS` only (notes and assignments stay internal).

The functions take a ticket the viewer may see (fetched through `Ticket.objects.visible_to`, or checked
with `tickets.permissions.can_view_ticket`); they narrow by the viewer's role, not by the ticket.

`SlaHistory` is the ticket's past as the SLA clocks read it, for nobody's eyes: the engine sits below
the domain, so the domain registers it with the clocks when it starts (tickets/apps.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from tickets.models import Attachment, Event, Macro, Message, Ticket
from tickets.permissions import is_agent

#: How many of the requester's other tickets, and of the organization's open ones, the console lists.
REQUESTER_TICKETS_SHOWN = 5
ORGANIZATION_OPEN_SHOWN = 10


def ticket_conversation(ticket: Ticket, *, viewer) -> QuerySet[Message]:
    """The messages of `ticket` that `viewer` may read, oldest first, with authors and attachments."""
    messages = Message.objects.filter(ticket=ticket)
    if not is_agent(viewer):
        messages = messages.public()
    return (
        messages.select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("pk")))
        .order_by("created_at", "pk")
    )


def ticket_messages_after(ticket: Ticket, *, viewer, after: int) -> QuerySet[Message]:
    """The messages `viewer` may read posted after the message `after` (an id), oldest first, with
    their authors: what a page that polls for new messages adds (no attachments, for speed)."""
    messages = Message.objects.filter(ticket=ticket, pk__gt=after)
    if not is_agent(viewer):
        messages = messages.public()
    return messages.select_related("author").order_by("created_at", "pk")


def ticket_attachments(ticket: Ticket, *, viewer) -> QuerySet[Attachment]:
    """Every file on `ticket` that `viewer` may download, in upload order."""
    files = Attachment.objects.filter(ticket=ticket)
    if not is_agent(viewer):
        files = files.exclude(message__internal=True)
    return files.order_by("pk")


def ticket_files(ticket: Ticket) -> QuerySet[Attachment]:
    """Files attached when the ticket was filed (not on any message): whoever sees the ticket sees them."""
    return Attachment.objects.filter(ticket=ticket, message__isnull=True)


def ticket_timeline(ticket: Ticket, *, viewer) -> QuerySet[Event]:
    """The audit trail of `ticket` as far as `viewer` may see it, oldest first, with the actors."""
    events = Event.objects.filter(ticket=ticket)
    if not is_agent(viewer):
        events = events.filter(kind__in=Event.PUBLIC_KINDS)
    return events.select_related("actor").order_by("created_at", "pk")


def requester_tickets(ticket: Ticket, *, limit: int = REQUESTER_TICKETS_SHOWN) -> QuerySet[Ticket]:
    """The requester's other tickets, newest first (for agents: what else this customer asked)."""
    return (
        Ticket.objects.filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .order_by("-created_at")[:limit]
    )


def organization_open_tickets(ticket: Ticket, *, limit: int = ORGANIZATION_OPEN_SHOWN) -> QuerySet[Ticket]:
    """The organization's other open tickets in queue order (for agents: is this part of an outage?)."""
    return (
        Ticket.objects.open()
        .filter(organization_id=ticket.organization_id)
        .exclude(pk=ticket.pk)
        .in_queue_order()[:limit]
    )


def active_macros(viewer=None) -> QuerySet[Macro]:
    """The canned replies `viewer` is offered, in the model's order: the shared ones and their own personal
    ones (every shared one when no viewer is given)."""
    macros = Macro.objects.filter(active=True)
    personal = Q(shared=False, created_by_id=viewer.pk) if viewer is not None else Q(pk__in=[])
    return macros.filter(Q(shared=True) | personal)


class SlaHistory:
    """What a late-starting SLA clock reads of a ticket's past (`sla.clocks.TicketHistory`)."""

    def first_agent_reply(self, ticket: Ticket) -> datetime | None:
        return _agent_reply_times(ticket).order_by("created_at").first()

    def last_agent_reply(self, ticket: Ticket) -> datetime | None:
        return _agent_reply_times(ticket).order_by("-created_at").first()

    def status_changes(self, ticket: Ticket, *, before: datetime) -> Iterable[tuple[datetime, str]]:
        return (
            Event.objects.filter(ticket=ticket, kind=Event.Kind.STATUS_CHANGED, created_at__lt=before)
            .order_by("created_at", "pk")
            .values_list("created_at", "to_value")
        )


def _agent_reply_times(ticket: Ticket) -> QuerySet:
    """When agents replied to the customer on `ticket` (internal notes are not replies)."""
    return Message.objects.filter(
        ticket=ticket, internal=False, author_role=Message.AuthorRole.AGENT
    ).values_list("created_at", flat=True)


def last_event_id(ticket: Ticket | None = None) -> int:
    """The id of the newest event (of `ticket`, or of any ticket), 0 if none: where a page that shows the
    state as of now starts following live updates (`?after=`)."""
    events = Event.objects.filter(ticket=ticket) if ticket is not None else Event.objects.all()
    return events.order_by("-pk").values_list("pk", flat=True).first() or 0
