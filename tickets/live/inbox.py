"""`/ws/notifications/`: an agent's notification centre, live on every console page (the header's count).

The socket is admitted at connect for a signed-in agent only (4401 signed out, 4403 not an agent), and
joins that agent's own group, `user.<id>` (`tickets.live_updates.user_group`): announcements there carry
no content, only "your notifications changed". At each one the viewer is read afresh from their session
and checked again, and the socket sends the unread count and the notifications after the last one it
sent (two queries, whatever the inbox's size):

    {"type": "inbox", "unread": "3", "notifications": [{"id", "kind", "kind_label", "text", "ticket",
     "url", "at"}]}

With the embedded channel layer (no Redis) nothing is published to `user.<id>`: the layer reads events
from the database (`tickets.live.layers`), so the socket also joins the agents' group and looks for new
notifications at each event; a notification read in another tab shows there at the page's next heartbeat
(25 s). The page is right on load without the socket; the socket only keeps it so.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import reverse

from tickets import inbox
from tickets.live.consumers import CLOSE_BAD_MESSAGE, CLOSE_SIGNED_OUT, CLOSE_TOO_MANY_MESSAGES, MessageRate
from tickets.live.streams import signed_in_viewer
from tickets.live_updates import AGENTS_GROUP, reads_events_itself, user_group
from tickets.permissions import is_agent

CLOSE_NOT_AN_AGENT = 4403
#: Notifications sent at most per message (the page links to the centre for the rest).
SENT_AT_MOST = 20


class InboxConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.joined: list[str] = []
        self.rate = MessageRate(settings.LIVE_CLIENT_MESSAGES_PER_MINUTE)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        self.last_sent = _after(self.scope.get("query_string", b""))
        self.last_unread = None
        user = self.scope.get("user")
        refused = CLOSE_SIGNED_OUT
        if user is not None and user.is_authenticated:
            refused = await database_sync_to_async(self._admit)()
        await self.accept()
        if refused:
            await self.close(refused)
            return
        groups = [user_group(self.viewer_id)]
        if reads_events_itself(self.channel_layer):
            groups.append(AGENTS_GROUP)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self._send_state(always=True)

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return
        if not self.rate.allow():
            await self.close(CLOSE_TOO_MANY_MESSAGES)
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "ping":
            await self.close(CLOSE_BAD_MESSAGE)
            return
        for group in self.joined:  # renews the membership (channels-redis forgets members after a day)
            await self.channel_layer.group_add(group, self.channel_name)
        await self._send_state(always=False)
        await self.send(text_data=json.dumps({"type": "pong"}))

    async def inbox_changed(self, message: dict) -> None:
        """An announcement on `user.<id>`: a notification was added or read."""
        if self.joined:
            await self._send_state(always=True)

    async def live_event(self, message: dict) -> None:
        """An event on the agents' group (embedded layer only): a notification may have come with it."""
        if self.joined:
            await self._send_state(always=False)

    # --- the database side ----------------------------------------------------------------------------

    def _admit(self) -> int | None:
        viewer = signed_in_viewer(self.session_key)
        if viewer is None:
            return CLOSE_SIGNED_OUT
        if not is_agent(viewer):
            return CLOSE_NOT_AN_AGENT
        self.viewer_id = viewer.pk
        if self.last_sent is None:
            newest = inbox.inbox(viewer).values_list("pk", flat=True).first()
            self.last_sent = newest or 0
        return None

    def _state(self) -> tuple[int | None, dict | None]:
        viewer = signed_in_viewer(self.session_key)
        if viewer is None:
            return CLOSE_SIGNED_OUT, None
        if not is_agent(viewer) or viewer.pk != self.viewer_id:
            return CLOSE_NOT_AN_AGENT, None
        rows = list(inbox.inbox(viewer).filter(pk__gt=self.last_sent)[:SENT_AT_MOST])
        unread = inbox.unread_label(inbox.unread_count(viewer))
        return None, {
            "type": "inbox",
            "unread": unread,
            "notifications": [
                {
                    "id": row.pk,
                    "kind": row.kind,
                    "kind_label": row.get_kind_display(),
                    "text": row.text,
                    "ticket": row.ticket.reference,
                    "url": reverse("admin:tickets_ticket_change", args=[row.ticket_id]),
                    "open_url": reverse("admin:tickets_notification_open", args=[row.pk]),
                    "at": row.created_at.isoformat(),
                }
                for row in reversed(rows)
            ],
        }

    async def _send_state(self, *, always: bool) -> None:
        refused, state = await database_sync_to_async(self._state)()
        if refused:
            await self.close(refused)
            return
        if state["notifications"]:
            self.last_sent = max(item["id"] for item in state["notifications"])
        elif not always and state["unread"] == self.last_unread:
            return
        self.last_unread = state["unread"]
        await self.send(text_data=json.dumps(state))


def _after(query_string: bytes) -> int | None:
    """The newest notification id the page shows (`?after=`); None when absent or not a number (the
    socket then starts after the newest there is: a page that lists none is sent only what comes)."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    try:
        after = int(values[0]) if values else None
    except ValueError:
        return None
    return after if after is not None and 0 <= after < 2**63 else None
