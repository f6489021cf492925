"""An event as one viewer may see it: what a socket (or a poll) sends to one browser.

Each payload is JSON the page's script turns into text nodes (never markup): the event's id (the page
renders each id once), its kind, the ticket as the viewer sees it now (status, severity, and for
customers the SLA promises in their organization's time zone and the moves they may make), and for a
message the message itself. A customer's payload is built from what customers may read only: an internal
note, or a file on one, never reaches these functions for them (`streams.py` filters by
`Event.is_public`), and `message_payload` refuses a note for a customer all the same.

A payload depends on the viewer through their `Audience` only (agent or customer, and the time zone they
read times in), so a process renders each event once per audience, whatever the number of sockets
(`delivery.py`). Every function takes a user or an `Audience` as `viewer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import dateformat, formats, timezone

from sla.models import Metric
from sla.promises import promises
from tickets.models import Event, Message, Ticket
from tickets.models.choices import Severity, Status
from tickets.permissions import customer_membership, is_agent
from tickets.workflow import allowed_statuses

Kind = Event.Kind
#: The kinds whose payload carries the message they added.
MESSAGE_KINDS = (Kind.REPLIED, Kind.NOTE_ADDED)
#: The kinds whose payload carries the change (the portal's status timeline lists them).
CHANGE_KINDS = (Kind.CREATED, Kind.STATUS_CHANGED, Kind.SEVERITY_CHANGED)


@dataclass(frozen=True)
class Audience:
    """Everything of a viewer that their payloads depend on."""

    agent: bool
    #: The zone times are shown in: a customer's organization's, the site's for agents.
    zone: ZoneInfo

    @classmethod
    def of(cls, viewer) -> Audience:
        if isinstance(viewer, Audience):
            return viewer
        if is_agent(viewer):
            return cls.agents()
        membership = customer_membership(viewer)
        return cls(agent=False, zone=membership.organization.zoneinfo if membership else _site_zone())

    @classmethod
    def agents(cls) -> Audience:
        return cls(agent=True, zone=_site_zone())

    @classmethod
    def customers_of(cls, organization) -> Audience:
        return cls(agent=False, zone=organization.zoneinfo)


def _site_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def viewer_timezone(viewer) -> ZoneInfo:
    """Customers read times in their organization's zone (as on the portal); agents in the site's (the
    console's pages show `created_at` in the agent's own zone, formatted in the browser: conversation.js)."""
    return Audience.of(viewer).zone


def ticket_event(event: Event, *, viewer) -> dict | None:
    """A ticket page's payload: the event, the ticket as it is now, and the message it added."""
    viewer = Audience.of(viewer)
    ticket = event.ticket
    payload = _event_payload(event, viewer=viewer)
    payload["ticket"] = ticket_state(ticket, viewer=viewer, promises_shown="all")
    if event.kind in MESSAGE_KINDS:
        message = _message_of(event)
        if message is None:  # deleted since
            return None
        payload["message"] = message_payload(message, viewer=viewer)
        if payload["message"] is None:
            return None
    return payload


def list_event(event: Event, *, viewer) -> dict:
    """A ticket list's payload: the event and the ticket's row as it is now."""
    viewer = Audience.of(viewer)
    payload = _event_payload(event, viewer=viewer)
    payload["ticket"] = ticket_state(event.ticket, viewer=viewer, promises_shown="first_response")
    return payload


def ticket_state(ticket: Ticket, *, viewer, promises_shown: str) -> dict:
    """The ticket as `viewer` sees it now. `promises_shown`: "all" (the ticket page's card) or
    "first_response" (the list's Response column)."""
    viewer = Audience.of(viewer)
    tz = viewer.zone
    state = {
        "id": ticket.pk,
        "reference": ticket.reference,
        "status": ticket.status,
        "status_label": Status(ticket.status).label,
        "severity": ticket.severity,
        "severity_label": Severity(ticket.severity).label,
        "updated_at": ticket.updated_at.isoformat(),
        "updated_display": _display(ticket.updated_at, tz, "M j, Y H:i"),
    }
    if viewer.agent:
        state["assignee"] = ticket.assignee.get_username() if ticket.assignee_id else ""
        return state
    clocks = list(ticket.sla_clocks.all())
    if promises_shown == "first_response":
        clocks = [clock for clock in clocks if clock.metric == Metric.FIRST_RESPONSE]
    lines = promises(clocks, tz, status=ticket.status)
    allowed = allowed_statuses(ticket.status, by_agent=False)
    state.update(
        promises=[{"kind": line.kind, "text": line.text} for line in lines],
        can_resolve=Status.RESOLVED in allowed,
        can_reopen=Status.OPEN in allowed,
        is_closed=ticket.status == Status.CLOSED,
    )
    return state


def message_payload(message: Message, *, viewer) -> dict | None:
    """A message as `viewer` sees it; None for an internal note and a viewer who is not an agent."""
    viewer = Audience.of(viewer)
    agent = viewer.agent
    if message.internal and not agent:
        return None
    tz = viewer.zone
    payload = {
        "id": message.pk,
        "author": _author_for_agents(message) if agent else _author_for_customers(message),
        "role": message.author_role,
        "role_label": message.get_author_role_display(),
        "internal": message.internal,
        "channel": message.get_channel_display(),
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "created_display": _display(message.created_at, tz, "M j, Y H:i")
        if not agent
        else formats.date_format(timezone.localtime(message.created_at, tz), "DATETIME_FORMAT"),
        "attachments": [
            {
                "name": file.original_name,
                "url": reverse("tickets:attachment_download", args=[file.pk]),
                "size": filesizeformat(file.size),
                "content_type": file.content_type,
            }
            for file in message.attachments.order_by("pk")
        ],
    }
    return payload


def _event_payload(event: Event, *, viewer) -> dict:
    payload = {
        "type": "event",
        "id": event.pk,
        "kind": event.kind,
        "at": event.created_at.isoformat(),
        "at_display": _display(event.created_at, Audience.of(viewer).zone, "M j, H:i"),
    }
    if event.kind in CHANGE_KINDS:
        # The codes for programs, the labels ("Waiting on customer") for people.
        payload["change"] = {
            "from": event.from_value,
            "to": event.to_value,
            "from_label": event.from_label,
            "to_label": event.to_label,
        }
    return payload


def _message_of(event: Event) -> Message | None:
    message_id = event.data.get("message_id")
    return (
        Message.objects.filter(pk=message_id, ticket_id=event.ticket_id).select_related("author").first()
        if message_id
        else None
    )


def _author_for_customers(message: Message) -> str:
    """As the portal's conversation names authors: agents as "Name (support)"."""
    author = message.author
    if message.author_role == Message.AuthorRole.AGENT:
        return f"{(author.get_full_name() if author else '') or 'Support'} (support)"
    if author is None:
        return "You"  # as the page says
    return author.get_full_name() or author.get_username()


def _author_for_agents(message: Message) -> str:
    author = message.author
    return (author.get_full_name() or author.get_username()) if author else "System"


def _display(instant: datetime, tz: ZoneInfo, format_string: str) -> str:
    return dateformat.format(instant.astimezone(tz), format_string)
