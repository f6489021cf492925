"""Delivering an announced event to this process's sockets: checked and rendered once per process and
audience, not once per socket.

A socket used to read its viewer afresh from the session, check the stream, read the event and render it
for every event: 6 to 9 queries per socket and event, all on the one thread Django's ORM runs on under
ASGI. Here the sockets of a process that hear of the same event within a few milliseconds are served by
one job:

1. **The viewers, still as they were** (2 queries for all the sockets): each socket keeps a `Viewer`, what
   the stream's rule depends on (active, staff, password hash, organization, role), taken when it was
   admitted. The job reads the current values of every viewer concerned and which of their sessions
   still exist unexpired; a socket whose viewer changed in any of them, or whose session is gone, is
   checked the long way (`LiveConsumer.recheck`: the session decoded, the stream's `allows`), which
   closes it (signed out 4401, deactivated 4401, moved or no longer allowed 4403/4404) or takes the new
   values. So a user deactivated, signed out, or moved to another organization never receives the next
   event, as before.
2. **The event** (one query, kept per process): its ticket's organization and requester, whether
   customers may see it (`Event.is_public`, not internal).
3. **Per socket, in memory**: the stream's rule (`Stream.shows`): agents see every event; a customer only
   a public event of a ticket of their organization that they requested or administer.
4. **The payload**, rendered once per (stream, audience) and event: agents; the customers of one
   organization (their time zone). Kept per process (LRU), serialized once.

A customer's payload is rendered from a customer's audience only, so an internal note or an agent-only
field cannot reach it whatever the cache holds.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets.live import rendering
from tickets.models import Event, Membership, Ticket
from tickets.permissions import customer_membership, is_agent

#: Seconds the first socket to hear of an event waits for the process's other sockets to hear of it too
#: (the channel layer hands them over one by one): they are then served by one job.
GATHER_SECONDS = 0.005
#: Events (with their payloads) a process keeps rendered.
KEPT_EVENTS = 512
#: The session engines whose sessions are rows of `django_session` (checked with one query for all).
DATABASE_SESSIONS = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


@dataclass(frozen=True)
class Viewer:
    """A socket's viewer as admitted: what the per-event checks compare with the database."""

    user_id: int
    session_key: str
    name: str
    agent: bool
    is_active: bool
    is_staff: bool
    #: The password hash: a changed password signs the user's other sessions out.
    password: str
    organization_id: int | None
    admin: bool

    @classmethod
    def of(cls, user, session_key: str) -> Viewer:
        membership = customer_membership(user)
        return cls(
            user_id=user.pk,
            session_key=session_key,
            name=user.get_full_name() or user.get_username(),
            agent=is_agent(user),
            is_active=user.is_active,
            is_staff=user.is_staff,
            password=user.password,
            organization_id=membership.organization_id if membership else None,
            admin=bool(membership and membership.is_admin),
        )

    def state(self) -> tuple:
        return (self.is_active, self.is_staff, self.password, self.organization_id, self.admin)

    def may_see_ticket(self, organization_id: int, requester_id: int | None) -> bool:
        """`tickets.permissions.can_view_ticket`, on the values taken at admission (checked current)."""
        if self.agent:
            return True
        if self.organization_id is None or self.organization_id != organization_id:
            return False
        return self.admin or requester_id == self.user_id


@dataclass
class EventFacts:
    """One event as the job needs it: the row (with its ticket) and who may see it."""

    event: Event
    organization_id: int
    requester_id: int | None
    public: bool
    #: (stream kind, audience) -> the payload as JSON text (None: nothing to send that audience).
    payloads: dict[tuple[str, rendering.Audience], str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, event_id: int) -> EventFacts | None:
        event = (
            Event.objects.filter(pk=event_id)
            .select_related("ticket__organization", "ticket__assignee")
            .first()
        )
        if event is None:
            return None
        ticket: Ticket = event.ticket
        return cls(
            event=event,
            organization_id=ticket.organization_id,
            requester_id=ticket.requester_id,
            public=event.is_public and not event.is_internal,
        )

    def audience(self, viewer: Viewer) -> rendering.Audience:
        if viewer.agent:
            return rendering.Audience.agents()
        # A customer shown this event is of the ticket's organization (`Viewer.may_see_ticket`).
        return rendering.Audience.customers_of(self.event.ticket.organization)

    def payload(self, stream, viewer: Viewer) -> str | None:
        key = (stream.kind, self.audience(viewer))
        if key not in self.payloads:
            payload = stream.render(self.event, viewer=key[1])
            self.payloads[key] = json.dumps(payload) if payload is not None else None
        return self.payloads[key]


@dataclass(frozen=True)
class Outcome:
    """What a socket does with an event: send `text`, close with `close`, or nothing (both None)."""

    text: str | None = None
    close: int | None = None
    #: The viewer as checked now, when it changed (the socket keeps it).
    viewer: Viewer | None = None


class Deliveries:
    """This process's jobs (one per event heard of at once) and its rendered events."""

    def __init__(self) -> None:
        self.waiting: dict[int, list[tuple[object, asyncio.Future]]] = {}
        self.jobs: set[asyncio.Task] = set()
        self.kept: OrderedDict[int, EventFacts | None] = OrderedDict()

    async def outcome(self, event_id: int, socket) -> Outcome:
        """What `socket` (a `LiveConsumer`) should do with the announced event `event_id`."""
        future = asyncio.get_running_loop().create_future()
        waiting = self.waiting.get(event_id)
        if waiting is None:
            waiting = self.waiting[event_id] = []
            asyncio.get_running_loop().call_later(GATHER_SECONDS, self._start, event_id)
        waiting.append((socket, future))
        return await future

    def _start(self, event_id: int) -> None:
        job = asyncio.ensure_future(self._serve(event_id, self.waiting.pop(event_id)))
        self.jobs.add(job)  # kept until done (the loop holds tasks weakly)
        job.add_done_callback(self.jobs.discard)

    async def _serve(self, event_id: int, waiting: list[tuple[object, asyncio.Future]]) -> None:
        sockets = [socket for socket, _ in waiting]
        try:
            outcomes = await database_sync_to_async(self.decide)(event_id, sockets)
        except Exception as error:  # noqa: BLE001 - each socket's handler raises it (and the socket closes)
            for _, future in waiting:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), outcome in zip(waiting, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)

    def decide(self, event_id: int, sockets: list) -> list[Outcome]:
        """The outcome for each socket (synchronous: the database)."""
        current = current_viewers([socket.viewer for socket in sockets])
        facts = self._facts(event_id)
        outcomes = []
        for socket in sockets:
            viewer, changed = socket.viewer, None
            if not current(viewer):
                refused, changed = socket.recheck()
                if refused:
                    outcomes.append(Outcome(close=refused))
                    continue
                viewer = changed
            outcomes.append(self._for(socket.stream, viewer, facts, changed))
        return outcomes

    def _for(self, stream, viewer: Viewer, facts: EventFacts | None, changed: Viewer | None) -> Outcome:
        if facts is None:  # deleted since
            return Outcome(viewer=changed)
        shown = stream.shows(viewer, facts)
        if shown is not True:
            return Outcome(close=shown or None, viewer=changed)
        return Outcome(text=facts.payload(stream, viewer), viewer=changed)

    def _facts(self, event_id: int) -> EventFacts | None:
        if event_id in self.kept:
            self.kept.move_to_end(event_id)
            return self.kept[event_id]
        facts = self.kept[event_id] = EventFacts.read(event_id)
        while len(self.kept) > KEPT_EVENTS:
            self.kept.popitem(last=False)
        return facts


def current_viewers(viewers: list[Viewer]) -> Callable[[Viewer], bool]:
    """Whether each viewer's session still exists unexpired and their user is as admitted: two queries for
    all of them (sessions in the database; one look per session for other engines)."""
    users = (
        get_user_model()
        .objects.filter(pk__in={viewer.user_id for viewer in viewers})
        .values_list(
            "pk", "is_active", "is_staff", "password", "membership__organization_id", "membership__role"
        )
    )
    states = {}
    for pk, active, staff, password, organization, role in users:
        customer = active and not staff and organization is not None  # as `customer_membership` reads it
        admin = customer and role == Membership.Role.ADMIN
        states[pk] = (active, staff, password, organization if customer else None, admin)
    keys = {viewer.session_key for viewer in viewers}
    if settings.SESSION_ENGINE in DATABASE_SESSIONS:
        from django.contrib.sessions.models import Session

        live = set(
            Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now()).values_list(
                "session_key", flat=True
            )
        )
    else:
        store = import_module(settings.SESSION_ENGINE).SessionStore
        live = {key for key in keys if store().exists(key)}

    def current(viewer: Viewer) -> bool:
        return viewer.session_key in live and states.get(viewer.user_id) == viewer.state()

    return current


_deliveries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deliveries] = weakref.WeakKeyDictionary()


def deliveries() -> Deliveries:
    """The jobs of the running event loop (one per process in production; tests run several loops)."""
    loop = asyncio.get_running_loop()
    if loop not in _deliveries:
        _deliveries[loop] = Deliveries()
    return _deliveries[loop]
