"""The WebSocket consumers: one per open page, following one stream (`streams.py`).

A socket's life:

1. **Connect**: the session cookie signs it in (`AuthMiddlewareStack`; the origin was checked against
   ALLOWED_HOSTS before); anonymous sockets are closed with 4401, a stream the viewer may not follow
   with 4404 (a ticket) or 4403.
2. **Catch up**: the page says the last event id it shows (`?after=N`); everything after it that the
   viewer may see is sent first, oldest first (or `{"type": "reload"}` when too much was missed).
3. **Live**: each announced event is checked against the viewer as they are now (signed out,
   deactivated: 4401; moved or no longer allowed: 4403) and sent as that viewer may see it. The
   process's sockets that hear of the same event share one check of their viewers and one rendering
   per audience (`delivery.py`). Every message carries the event id; the page renders each id once.
4. **Client messages**: `{"type": "ping", "after": N}` (a heartbeat, which also sends anything after N
   the socket has not delivered, at most every PING_CATCH_UP_SECONDS), answered `{"type": "pong"}`;
   on a ticket's socket also `{"type": "typing", "internal": false}` (the viewer is writing: the
   ticket's other sockets are sent `{"type": "typing", "name", "agent"}`, never carrying an agent's
   note to a customer). A message over LIVE_CLIENT_MESSAGE_MAX_BYTES closes the socket with 1009, one
   over the rate (LIVE_CLIENT_MESSAGES_PER_MINUTE, with a small burst) with 4429, anything else with
   4400.
5. **Chat** (a ticket's socket, customers): `{"type": "chat", "body", "ref"}` is a chat line on the
   ticket (`tickets.services.chat_post`, as the portal's chat endpoint writes it), answered
   `{"type": "chat_sent", "ref", "message"}` or `{"type": "chat_error", "ref", "errors": {field: [...]}}`;
   the line itself comes back as the ticket's event, like everyone else's. Such sockets take messages up
   to CHAT_MESSAGE_MAX_BYTES, and CHAT_MESSAGES_PER_MINUTE lines (a faster line is refused, not saved).
6. **Agents online**: every agent's socket is kept in `tickets.presence` while open (renewed at each
   heartbeat), so the chat panel can say "An agent is online"; its heartbeat (`"agents": true`) is
   answered `{"type": "pong", "agents_online": true|false}` on a customer's ticket socket.
7. **Presence** (a ticket's page, agents only): an agent's socket that opens or closes tells the other
   agents on the ticket (`{"type": "presence", "user", "name", "here"}`); those already there answer the
   newcomer. Customers are never told who of the support team is looking.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from tickets import presence, services
from tickets.chats import has_agent_online
from tickets.live.delivery import Viewer, deliveries
from tickets.live.streams import Stream, TicketListStream, TicketStream, signed_in_viewer
from tickets.live.watch import watch_for
from tickets.live_updates import Announcement
from tickets.models import Event, Ticket

#: Close codes (4000-4999 are the application's; the page's script knows them).
CLOSE_BAD_MESSAGE = 4400
CLOSE_SIGNED_OUT = 4401
CLOSE_TOO_MANY_MESSAGES = 4429
CLOSE_MESSAGE_TOO_BIG = 1009
#: Client messages allowed at once before the per-minute rate applies.
BURST = 5
#: Chat lines allowed at once (a person sends a few short lines in a row) before CHAT_MESSAGES_PER_MINUTE.
CHAT_BURST = 10
#: How many delivered event ids a socket remembers, so an event replayed and then announced is sent once.
REMEMBERED_IDS = 2000
#: A heartbeat's `after` has the socket send what it missed at most this often (seconds): the backstop
#: for an announcement lost on the way. Each catch-up reads the viewer and the events for this socket
#: alone; 1,000 pages pinging every 25 s made that the server's main work (docs/performance.md).
PING_CATCH_UP_SECONDS = 120.0


class MessageRate:
    """A token bucket: `burst` messages at once, refilled at `per_minute`."""

    def __init__(self, per_minute: int, burst: int = BURST) -> None:
        self.rate = per_minute / 60
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.checked = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.checked) * self.rate)
        self.checked = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LiveConsumer(AsyncWebsocketConsumer):
    """A socket following one stream; subclasses say which (`make_stream`)."""

    #: Whether the page may say its viewer is typing, and agents see who else is on it (a ticket's page).
    accepts_typing = False
    shows_presence = False
    #: Whether a customer may send chat lines on it (a ticket's socket).
    accepts_chat = False

    def make_stream(self) -> Stream:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined: list[str] = []
        self.delivered: OrderedDict[int, None] = OrderedDict()
        #: The newest event id this socket sent or knew of when it opened: catching up starts there.
        self.cursor = 0
        #: When this socket last sent what it missed, or opened (time.monotonic()): from then on it was
        #: in its groups, so a heartbeat has nothing to recover but an announcement lost on the way.
        self.caught_up_at = time.monotonic()
        #: Held while sending events, so a catch-up and a live event do not interleave.
        self.sending = asyncio.Lock()
        #: The other agents' sockets on this ticket's page, as told (presence).
        self.present: set[str] = set()
        if self.accepts_chat:  # chat lines have a bucket of their own, on top of the heartbeats' and typing's
            self.chat_rate = MessageRate(settings.CHAT_MESSAGES_PER_MINUTE, burst=CHAT_BURST)
            self.rate = MessageRate(
                settings.LIVE_CLIENT_MESSAGES_PER_MINUTE + settings.CHAT_MESSAGES_PER_MINUTE,
                burst=BURST + CHAT_BURST,
            )
        else:
            self.rate = MessageRate(settings.LIVE_CLIENT_MESSAGES_PER_MINUTE)
        self.stream = self.make_stream()
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        user = self.scope.get("user")
        refused, groups = CLOSE_SIGNED_OUT, []
        if user is not None and user.is_authenticated:
            refused, groups = await database_sync_to_async(self._admit)()
        if refused:
            await self.accept()  # a close code only reaches a page whose socket was accepted
            await self.close(refused)
            return
        # Joined before accepting: once the page's socket is open, no announcement can pass it by.
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        self.watch = watch_for(self.channel_layer)
        if self.watch is not None:
            self.watch.follow(self)
        if self.shows_presence and self.viewer_is_agent:
            # Said before accepting too: a socket that opens after this one's does not hear it as well
            # (the answers wait in this socket's queue until it is accepted).
            await self._presence(here=True, answer=True)
        await self.accept()
        if self.viewer_is_agent:
            await _agent_here(self.viewer_id, self.channel_name)
        after = _after(self.scope.get("query_string", b""))
        if after is not None:
            self.cursor = after
            async with self.sending:
                await self._catch_up(after, overlap=True)

    async def disconnect(self, code: int) -> None:
        if self.joined and self.viewer_is_agent:
            await sync_to_async(presence.agent_gone, thread_sensitive=False)(socket=self.channel_name)
        if getattr(self, "watch", None) is not None:
            self.watch.forget(self)
        if self.joined and self.shows_presence and self.viewer_is_agent:
            await self._presence(here=False)
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:  # refused, and being closed
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        limit = settings.LIVE_CLIENT_MESSAGE_MAX_BYTES
        if self.accepts_chat and not self.viewer_is_agent:
            limit = max(limit, settings.CHAT_MESSAGE_MAX_BYTES)
        if size > limit:
            await self.close(CLOSE_MESSAGE_TOO_BIG)
            return
        if not self.rate.allow():
            await self.close(CLOSE_TOO_MANY_MESSAGES)
            return
        message = _client_message(text_data)
        if size > settings.LIVE_CLIENT_MESSAGE_MAX_BYTES and (message is None or message[0] != "chat"):
            await self.close(CLOSE_MESSAGE_TOO_BIG)  # only a chat line may be longer than a heartbeat
            return
        if (
            message is None
            or (message[0] == "typing" and not self.accepts_typing)
            or (message[0] == "chat" and not self.accepts_chat)
        ):
            await self.close(CLOSE_BAD_MESSAGE)
            return
        kind, value = message
        if kind == "typing":
            await self._typing(internal=bool(value) and self.viewer_is_agent)
            return
        if kind == "chat":
            await self._chat(*value)
            return
        if self.viewer_is_agent:
            await _agent_here(self.viewer_id, self.channel_name)
        after = value
        # Joining again renews the membership: channels-redis forgets members after a day (group_expiry).
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        if after is not None and time.monotonic() - self.caught_up_at >= PING_CATCH_UP_SECONDS:
            async with self.sending:
                await self._catch_up(after)
        pong = {"type": "pong"}
        if kind == "ping_agents" and self.accepts_chat and not self.viewer_is_agent:
            pong["agents_online"] = await database_sync_to_async(has_agent_online)()  # the chat panel's
        await self.send(text_data=json.dumps(pong))

    async def live_event(self, message: dict) -> None:
        """An announcement from the channel layer (`tickets.live_updates`)."""
        if not self.joined:
            return
        async with self.sending:
            await self._announced(Announcement.from_message(message))

    async def rejoin(self, *, join: bool = True) -> None:
        """The channel layer forgot this socket's groups (`watch.py`): join them again, then send what
        was missed since the last event sent (the page shows each once)."""
        if not self.joined:
            return
        async with self.sending:
            if join:
                for group in self.joined:
                    await self.channel_layer.group_add(group, self.channel_name)
            await self._catch_up(self.cursor, overlap=True)

    async def _announced(self, announcement: Announcement) -> None:
        if announcement.event_id in self.delivered:
            return
        if not self.stream.may_concern(self.viewer_is_agent, announcement):
            return
        outcome = await deliveries().outcome(announcement.event_id, self)
        if outcome.viewer is not None:
            self._admitted(outcome.viewer)
        if outcome.close:
            await self.close(outcome.close)
        elif outcome.text is not None:
            await self._send_text(announcement.event_id, outcome.text)

    async def live_typing(self, message: dict) -> None:
        """Someone else on the ticket is typing; an agent's note is shown to agents only."""
        if not self.joined or message["sender"] == self.channel_name:
            return
        if message["internal"] and not self.viewer_is_agent:
            return
        refused = await database_sync_to_async(lambda: self._current_viewer()[1])()
        if refused:
            await self.close(refused)
            return
        signal = {"type": "typing", "name": message["name"], "agent": message["agent"]}
        if self.viewer_is_agent:
            signal["internal"] = message["internal"]
        await self.send(text_data=json.dumps(signal))

    async def live_presence(self, message: dict) -> None:
        """An agent came to the ticket's page or left it; a newcomer is answered by those already here."""
        if not self.joined or not self.viewer_is_agent or message["user"] == self.viewer_id:
            return
        # Each arrival and departure is told once: a process hands a group's message to every socket it
        # has in the group when the message arrives, so one that opened just after it was sent hears an
        # arrival it is also answered about.
        if message["here"] == (message["sender"] in self.present):
            return
        refused = await database_sync_to_async(lambda: self._current_viewer()[1])()
        if refused:
            await self.close(refused)
            return
        if message["here"]:
            self.present.add(message["sender"])
        else:
            self.present.discard(message["sender"])
        signal = {
            "type": "presence",
            "user": message["user"],
            "name": message["name"],
            "here": message["here"],
        }
        await self.send(text_data=json.dumps(signal))
        if message["answer"]:
            await self.channel_layer.send(message["sender"], self._presence_message(here=True, answer=False))

    async def _presence(self, *, here: bool, answer: bool = False) -> None:
        for group in self.joined:
            await self.channel_layer.group_send(group, self._presence_message(here=here, answer=answer))

    def _presence_message(self, *, here: bool, answer: bool) -> dict:
        return {
            "type": "live.presence",
            "sender": self.channel_name,
            "user": self.viewer_id,
            "name": self.viewer_name,
            "here": here,
            "answer": answer,  # whether those already here should say so
        }

    async def _chat(self, body, ref: str) -> None:
        if not self.chat_rate.allow():
            errors = {"body": ["You are sending messages faster than we can take them; wait a moment."]}
            await self.send(text_data=json.dumps({"type": "chat_error", "ref": ref, "errors": errors}))
            return
        refused, answer = await database_sync_to_async(self._post_chat_line)(body)
        if refused:
            await self.close(refused)
            return
        await self.send(text_data=json.dumps({"ref": ref, **answer}))

    async def _typing(self, *, internal: bool) -> None:
        message = {
            "type": "live.typing",
            "sender": self.channel_name,
            "name": self.viewer_name,
            "agent": self.viewer_is_agent,
            "internal": internal,
        }
        for group in self.joined:
            await self.channel_layer.group_send(group, message)

    # --- the synchronous steps (database) -----------------------------------------------------------

    def _admit(self) -> tuple[int | None, list[str]]:
        """(close code, None) if the viewer may not follow the stream; else (None, groups to join)."""
        viewer = signed_in_viewer(self.session_key)
        if viewer is None:
            return CLOSE_SIGNED_OUT, []
        if not self.stream.allows(viewer):
            return self.stream.refused_code, []
        self._admitted(Viewer.of(viewer, self.session_key))
        self.cursor = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        return None, self.stream.groups(viewer)

    def _admitted(self, viewer: Viewer) -> None:
        """The viewer as checked (at connect, or again after a change): the per-event checks compare it."""
        self.viewer = viewer
        self.viewer_is_agent = viewer.agent
        self.viewer_name = viewer.name
        self.viewer_id = viewer.user_id

    def recheck(self) -> tuple[int | None, Viewer | None]:
        """The long check, when the viewer changed since admitted (`delivery.py`): (close code, None), or
        (None, the viewer as they are now)."""
        viewer, refused = self._current_viewer()
        if refused:
            return refused, None
        return None, Viewer.of(viewer, self.session_key)

    def _current_viewer(self):
        """(viewer, None) if they may still follow the stream, else (None, close code)."""
        viewer = signed_in_viewer(self.session_key)
        if viewer is None:
            return None, CLOSE_SIGNED_OUT
        # Moved to another organization, or no longer (or newly) an agent: the groups would differ.
        if not self.stream.allows(viewer) or self.stream.groups(viewer) != self.joined:
            return None, Stream.refused_code
        return viewer, None

    def _post_chat_line(self, body) -> tuple[int | None, dict | None]:
        """A customer's chat line on the socket's ticket, through the same service as the chat endpoint."""
        viewer, refused = self._current_viewer()
        if refused:
            return refused, None
        if self.viewer_is_agent:
            return None, _chat_error("body", "Agents answer from the ticket's reply box in the console.")
        if not isinstance(body, str):
            return None, _chat_error("body", "Write a message.")
        ticket = Ticket.objects.filter(pk=self.stream.ticket_id).first()
        try:
            message = services.chat_post(customer=viewer, ticket=ticket, body=body)
        except PermissionDenied:
            return Stream.refused_code, None
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"body": exc.messages}
            return None, {"type": "chat_error", "errors": errors}
        return None, {"type": "chat_sent", "message": message.pk}

    def _missed(self, after: int, overlap: bool) -> tuple[int | None, list[dict] | None]:
        viewer, refused = self._current_viewer()
        if refused:
            return refused, None
        payloads = self.stream.payloads_after(
            viewer, after, limit=settings.LIVE_REPLAY_LIMIT, overlap=overlap
        )
        return None, payloads

    # --- sending ------------------------------------------------------------------------------------

    async def _catch_up(self, after: int, *, overlap: bool = False) -> None:
        self.caught_up_at = time.monotonic()
        refused, payloads = await database_sync_to_async(self._missed)(after, overlap)
        if refused:
            await self.close(refused)
        elif payloads is None:
            await self.send(text_data=json.dumps({"type": "reload"}))
        else:
            await self._send_payloads(payloads)

    async def _send_payloads(self, payloads: list[dict]) -> None:
        for payload in payloads:
            await self._send_text(payload["id"], json.dumps(payload))

    async def _send_text(self, event_id: int, text: str) -> None:
        """Send an event's payload (JSON text) unless this socket already did."""
        if event_id in self.delivered:
            return
        self.delivered[event_id] = None
        self.cursor = max(self.cursor, event_id)
        if len(self.delivered) > REMEMBERED_IDS:
            self.delivered.popitem(last=False)
        await self.send(text_data=text)


class TicketConsumer(LiveConsumer):
    """`/ws/tickets/<id>/`: one ticket's page (portal or console)."""

    accepts_typing = True
    shows_presence = True
    accepts_chat = True

    def make_stream(self) -> Stream:
        return TicketStream(int(self.scope["url_route"]["kwargs"]["ticket_id"]))


class TicketListConsumer(LiveConsumer):
    """`/ws/tickets/`: the ticket lists (My tickets; the agents' queues)."""

    def make_stream(self) -> Stream:
        return TicketListStream()


async def _agent_here(user_id: int, socket: str) -> None:
    """Keep the agent's socket among those online (`tickets.presence`): at connect and each heartbeat."""
    await sync_to_async(presence.agent_here, thread_sensitive=False)(user_id=user_id, socket=socket)


def _chat_error(field: str, text: str) -> dict:
    return {"type": "chat_error", "errors": {field: [text]}}


def _after(query_string: bytes) -> int | None:
    """The `after` parameter: the last event id the page shows (None: nothing to catch up on)."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    return _event_id(values[0]) if values else None


def _client_message(text: str | None) -> tuple[str, object] | None:
    """("ping" or "ping_agents", after or None), ("typing", internal) or ("chat", (body, ref)); None for
    anything else."""
    try:
        message = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if message.get("type") == "typing":
        internal = message.get("internal", False)
        return ("typing", internal) if isinstance(internal, bool) else None
    if message.get("type") == "chat":
        ref = message.get("ref", "")
        if not isinstance(ref, str) or len(ref) > 64:
            return None
        return ("chat", (message.get("body"), ref))
    if message.get("type") != "ping":
        return None
    # The chat panel's heartbeat also asks whether an agent is online.
    kind = "ping_agents" if message.get("agents") is True else "ping"
    if "after" not in message:
        return (kind, None)
    after = _event_id(message["after"])
    return None if after is None else (kind, after)


def _event_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**63 else None
