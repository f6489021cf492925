"""Live updates, the domain's side: which channel-layer groups hear of an event, and the spine subscriber
that tells them (after commit).

Every recorded event is announced, by id, to the groups whose members may be shown it:

- `ticket.<id>`: whoever has the ticket's page open, agents and customers alike (each socket filters
  what its own viewer may see: a customer's never shows an internal note);
- `agents`: the agents' queues, every event;
- `org.<id>`: the organization's customers (My tickets), public events only.

An announcement carries ids and the kind, never content: each socket reads the event back for its
viewer, checks that viewer again, and renders what that viewer may see (`tickets/live/`).

Two transports carry announcements (settings.CHANNEL_LAYERS):

- **Redis** (production): this subscriber publishes each event to its groups, from whichever process
  committed it (web, Celery worker, beat).
- **Embedded** (no REDIS_URL): every event is already an `Event` row whose id only grows, so each web
  process reads the new rows itself (`tickets.live.layers`) and this subscriber has nothing to do. That
  way events committed by the Celery worker and beat reach the sockets too.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from helpdesk.outages import Outage, outage
from tickets import spine
from tickets.models import Event

#: The agents' group: every event of every ticket.
AGENTS_GROUP = "agents"
#: The message type of an announcement: a consumer's `live_event` method handles it.
MESSAGE_TYPE = "live.event"
#: How long a publish may wait on the channel layer: the caller is a request or a task whose change is
#: already committed, and open pages fetch what they missed at their next heartbeat (25 s) anyway.
PUBLISH_TIMEOUT_SECONDS = 1.0
#: After a failed publish, this process skips the channel layer for this long (one request waits, not
#: every one): the outage is logged once, and pages catch up by event id (the web processes' sockets
#: catch up again this long after the layer is back: tickets/live/watch.py).
PUBLISH_RETRY_AFTER = 2.0


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def organization_group(organization_id: int) -> str:
    return f"org.{organization_id}"


@dataclass(frozen=True)
class Announcement:
    """What the channel layer carries for one event: ids and the kind, nothing a viewer could misread."""

    event_id: int
    ticket_id: int
    organization_id: int
    kind: str
    #: Whether the ticket's customers may see it (a public kind that is not internal).
    public: bool

    @classmethod
    def of(cls, event: Event, *, organization_id: int) -> Announcement:
        return cls(
            event_id=event.pk,
            ticket_id=event.ticket_id,
            organization_id=organization_id,
            kind=event.kind,
            public=event.is_public and not event.is_internal,
        )

    @property
    def groups(self) -> list[str]:
        """The groups that hear of it: the ticket's viewers, the agents, and, when customers may see
        it, the organization's lists."""
        groups = [ticket_group(self.ticket_id), AGENTS_GROUP]
        if self.public:
            groups.append(organization_group(self.organization_id))
        return groups

    def message(self) -> dict:
        return {
            "type": MESSAGE_TYPE,
            "event": self.event_id,
            "ticket": self.ticket_id,
            "organization": self.organization_id,
            "kind": self.kind,
            "public": self.public,
        }

    @classmethod
    def from_message(cls, message: dict) -> Announcement:
        return cls(
            event_id=int(message["event"]),
            ticket_id=int(message["ticket"]),
            organization_id=int(message["organization"]),
            kind=str(message["kind"]),
            public=bool(message["public"]),
        )


def reads_events_itself(layer) -> bool:
    """Whether `layer` finds new events in the database by itself (the embedded layer)."""
    # Asked of the class: channels-redis' pub/sub layer answers attribute lookups from a per-event-loop
    # object, and the spine's subscriber runs outside any event loop.
    return bool(getattr(type(layer), "reads_events_from_database", False))


def publish(event: Event) -> None:
    """The spine subscriber (after commit): announce `event` to its groups on the channel layer. Nothing
    to do when the layer reads events from the database itself, or when there is no layer."""
    layer = get_channel_layer()
    if layer is None or reads_events_itself(layer):
        return
    layer_outage = _outage()
    if layer_outage.down():
        return
    announcement = Announcement.of(event, organization_id=event.ticket.organization_id)
    try:
        _run(_send, layer, announcement)
    except (RedisError, OSError, TimeoutError) as error:  # down or hung: the change stands, pages catch up
        layer_outage.failed(error)
    else:
        layer_outage.succeeded()


def _outage() -> Outage:
    return outage("Live updates' channel layer", retry_after=PUBLISH_RETRY_AFTER)


def _run(coroutine_function, *args) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(coroutine_function)(*args)
        return
    # This thread runs an event loop of its own (a test driving a browser through Playwright's sync API):
    # the publish waits on another thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(async_to_sync(coroutine_function), *args).result()


async def _send(layer, announcement: Announcement) -> None:
    message = announcement.message()
    sends = [layer.group_send(group, message) for group in announcement.groups]
    await asyncio.wait_for(asyncio.gather(*sends), timeout=PUBLISH_TIMEOUT_SECONDS)


def connect() -> None:
    """Subscribe to the spine (from `tickets.subscribers.connect`)."""
    spine.subscribe(publish)


# --- agents' notifications ----------------------------------------------------------------------------

#: The message type that tells an agent's console pages their notifications changed (`tickets.inbox`).
INBOX_MESSAGE_TYPE = "inbox.changed"


def user_group(user_id: int) -> str:
    """One agent's console pages (the notification centre's badge): a new notification, or one read."""
    return f"user.{user_id}"


def notify_users(user_ids) -> None:
    """Tell the users' open pages that their notifications changed; each page reads what is new itself.
    With the embedded layer the pages find out from the events they already hear (`tickets.live`)."""
    layer = get_channel_layer()
    if layer is None or reads_events_itself(layer) or not user_ids:
        return
    layer_outage = _outage()
    if layer_outage.down():
        return
    try:
        _run(_send_inbox, layer, list(user_ids))
    except (RedisError, OSError, TimeoutError) as error:  # the rows stand: pages catch up at their heartbeat
        layer_outage.failed(error)
    else:
        layer_outage.succeeded()


async def _send_inbox(layer, user_ids: list[int]) -> None:
    sends = [layer.group_send(user_group(pk), {"type": INBOX_MESSAGE_TYPE}) for pk in user_ids]
    await asyncio.wait_for(asyncio.gather(*sends), timeout=PUBLISH_TIMEOUT_SECONDS)
