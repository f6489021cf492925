"""What a live page follows, and who may follow it: one ticket, or the ticket lists.

A stream answers, for a viewer: may they follow it (`allows`, the pages' own rule: `can_view_ticket`,
agents by `is_agent`), which channel-layer groups carry its events (`groups`), which events they may
be shown (`events`, by `Event.is_public` for customers) and how each looks to them (`render`). The
socket asks again at every event, with the viewer read afresh from their session (`signed_in_viewer`):
a user signed out, deactivated or moved to another organization stops receiving at once.

All of it is synchronous ORM work: consumers call it through `database_sync_to_async`, the polling
views directly.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from tickets.live import rendering
from tickets.live_updates import AGENTS_GROUP, Announcement, organization_group, ticket_group
from tickets.models import Event, Ticket
from tickets.permissions import can_view_ticket, customer_membership, is_agent

#: On (re)connecting, events with ids a little below the page's last one are sent again when they are
#: recent (LIVE_REPLAY_OVERLAP_SECONDS; the page shows each event once): ids are handed out at insert
#: and become visible at commit, so on PostgreSQL a transaction that committed late may hold a lower id
#: than one the page already shows. At most this many ids below are looked at.
OVERLAP_IDS = 1000


def signed_in_viewer(session_key: str | None):
    """The active user signed in with `session_key` now, or None (signed out, session expired, password
    changed, deactivated). Read afresh from the session store and the database at each call."""
    if not session_key:
        return None
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)
    return user if user.is_authenticated and user.is_active else None


class Stream:
    """A live feed of ticket events, as one viewer may see it."""

    #: Close code of a socket whose viewer may not (or may no longer) follow the stream.
    refused_code = 4403
    #: Which stream this is, in the keys of the payloads a process keeps rendered (`delivery.py`).
    kind = ""

    def allows(self, viewer) -> bool:
        raise NotImplementedError

    def groups(self, viewer) -> list[str]:
        raise NotImplementedError

    def events(self, viewer) -> QuerySet[Event]:
        raise NotImplementedError

    def render(self, event: Event, *, viewer) -> dict | None:
        raise NotImplementedError

    def shows(self, viewer, facts) -> bool | int:
        """Whether a socket whose viewer (a `delivery.Viewer`, checked current) follows this stream is sent
        the event (`delivery.EventFacts`): True, False (not this socket's), or the code to close it
        with (the viewer may no longer follow the stream). In memory: the same rule as `events`."""
        raise NotImplementedError

    def may_concern(self, viewer_is_agent: bool, announcement: Announcement) -> bool:
        """A check on the announcement alone, before any query: customers hear of public events only."""
        return viewer_is_agent or announcement.public

    def event(self, viewer, event_id: int) -> Event | None:
        """The announced event, if `viewer` may see it on this stream."""
        event = self.events(viewer).filter(pk=event_id).first()
        return event if event is not None and self._visible(event, viewer) else None

    def payloads_after(self, viewer, after: int, *, limit: int, overlap: bool = False) -> list[dict] | None:
        """What the viewer missed after the event `after`, oldest first; None when more than `limit`
        events did (the page reloads instead). `overlap`: also the recent events just below `after`."""
        recent = Q(pk__gt=after)
        seconds = settings.LIVE_REPLAY_OVERLAP_SECONDS
        if overlap and seconds > 0:
            since = timezone.now() - timedelta(seconds=seconds)
            recent |= Q(pk__gt=after - OVERLAP_IDS, created_at__gte=since)
        events = list(self.events(viewer).filter(recent).order_by("pk")[: limit + 1])
        if len(events) > limit:
            return None
        payloads = (self.render(event, viewer=viewer) for event in events if self._visible(event, viewer))
        return [payload for payload in payloads if payload is not None]

    @staticmethod
    def _visible(event: Event, viewer) -> bool:
        return is_agent(viewer) or (event.is_public and not event.is_internal)

    @staticmethod
    def _customer_events(events: QuerySet[Event], viewer) -> QuerySet[Event]:
        return events if is_agent(viewer) else events.filter(kind__in=Event.PUBLIC_KINDS)


class TicketStream(Stream):
    """One ticket's events, for its page (the portal's, the console's)."""

    #: A ticket the viewer may not see is answered as the page answers it: not found.
    refused_code = 4404
    kind = "ticket"

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id

    def allows(self, viewer) -> bool:
        ticket = Ticket.objects.filter(pk=self.ticket_id).first()
        return ticket is not None and can_view_ticket(viewer, ticket)

    def groups(self, viewer) -> list[str]:
        return [ticket_group(self.ticket_id)]

    def events(self, viewer) -> QuerySet[Event]:
        events = Event.objects.filter(ticket_id=self.ticket_id).select_related(
            "ticket__organization", "ticket__assignee"
        )
        return self._customer_events(events, viewer)

    def render(self, event: Event, *, viewer) -> dict | None:
        return rendering.ticket_event(event, viewer=viewer)

    def shows(self, viewer, facts) -> bool | int:
        if facts.event.ticket_id != self.ticket_id:
            return False
        if not viewer.may_see_ticket(facts.organization_id, facts.requester_id):
            return Stream.refused_code  # the ticket moved away from them (as `allows` now answers)
        return viewer.agent or facts.public


class TicketListStream(Stream):
    """The events of every ticket the viewer may see, for the lists: all of them for agents (the queues),
    the organization's for its admins, their own for requesters (My tickets)."""

    kind = "list"

    def allows(self, viewer) -> bool:
        return is_agent(viewer) or customer_membership(viewer) is not None

    def groups(self, viewer) -> list[str]:
        if is_agent(viewer):
            return [AGENTS_GROUP]
        return [organization_group(customer_membership(viewer).organization_id)]

    def events(self, viewer) -> QuerySet[Event]:
        events = Event.objects.select_related("ticket__organization", "ticket__assignee")
        if not is_agent(viewer):
            events = events.filter(ticket__in=Ticket.objects.visible_to(viewer))
        return self._customer_events(events, viewer)

    def render(self, event: Event, *, viewer) -> dict | None:
        return rendering.list_event(event, viewer=viewer)

    def shows(self, viewer, facts) -> bool | int:
        if viewer.agent:
            return True
        return facts.public and viewer.may_see_ticket(facts.organization_id, facts.requester_id)
