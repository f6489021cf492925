"""The embedded channel layer: live updates with no Redis, from every process that records events.

A process-local in-memory layer would only carry what the web process itself publishes, and miss what
the Celery worker and beat record (SLA warnings and breaches, escalations). But every event is an
`Event` row whose id only grows, so this layer finds new events in the database itself: while anyone in
the process listens, ONE reader per web process (not one per socket) asks for the rows after the last
id it saw every `interval` seconds (LIVE_TAIL_SECONDS) and delivers each to its groups in memory. The
consumers are the same as with Redis; only the transport differs.

Ids are handed out when a row is inserted and become visible when its transaction commits, so two
transactions may commit out of id order (PostgreSQL); SQLite, the embedded database, commits one writer
at a time. A skipped id is looked for again for `gap_seconds` before it is taken for a rolled-back insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer

from tickets.live_updates import Announcement
from tickets.models import Event

logger = logging.getLogger(__name__)

#: Rows read at most per look (a burst is read over the next looks).
BATCH = 500


class EventTail:
    """Reads the events recorded after `last` (by any process), in id order, remembering skipped ids."""

    def __init__(self, last: int, *, gap_seconds: float) -> None:
        self.last = last
        self.gap_seconds = gap_seconds
        #: Ids below `last` not seen yet, with the time they were first missed.
        self.gaps: dict[int, float] = {}

    @classmethod
    def from_now(cls, *, gap_seconds: float) -> EventTail:
        """A tail that starts after the newest event recorded so far."""
        newest = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        return cls(newest, gap_seconds=gap_seconds)

    def read(self) -> list[Announcement]:
        """The announcements of the events committed since the last read, oldest id first."""
        self._forget_old_gaps()
        rows = list(
            Event.objects.filter(pk__gt=self.last)
            .order_by("pk")
            .values_list("pk", "ticket_id", "ticket__organization_id", "kind", "data")[:BATCH]
        )
        if self.gaps:
            rows += Event.objects.filter(pk__in=list(self.gaps)).values_list(
                "pk", "ticket_id", "ticket__organization_id", "kind", "data"
            )
            rows.sort()
        announcements = []
        for pk, ticket_id, organization_id, kind, data in rows:
            self._saw(pk)
            event = Event(pk=pk, ticket_id=ticket_id, kind=kind, data=data)
            announcements.append(Announcement.of(event, organization_id=organization_id))
        return announcements

    def _saw(self, pk: int) -> None:
        if pk in self.gaps:
            del self.gaps[pk]
            return
        now = time.monotonic()
        for missing in range(self.last + 1, pk):
            self.gaps[missing] = now
        self.last = max(self.last, pk)

    def _forget_old_gaps(self) -> None:
        oldest = time.monotonic() - self.gap_seconds
        self.gaps = {pk: since for pk, since in self.gaps.items() if since >= oldest}


class DatabaseEventsChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, fed with the events any process commits (see the module docstring). The
    reader runs on the event loop of the process's sockets while any group has a member."""

    #: Tells `tickets.live_updates.publish` that nothing needs publishing: this layer finds events itself.
    reads_events_from_database = True

    def __init__(self, interval: float = 0.25, gap_seconds: float = 60.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.interval = interval
        self.gap_seconds = gap_seconds
        self._reader: asyncio.Task | None = None
        self._ready = asyncio.Event()

    async def group_add(self, group: str, channel: str) -> None:
        """Join as usual; the first member starts the reader. The reader's starting point is fixed before
        this returns, so a consumer that then replays from the database misses nothing in between."""
        await super().group_add(group, channel)
        if self._reader is None or self._reader.done() or self._reader.get_loop() is not _running_loop():
            self._ready = asyncio.Event()
            self._reader = asyncio.get_running_loop().create_task(self._read_events(self._ready))
        await self._ready.wait()

    async def flush(self) -> None:
        await super().flush()
        await self.close()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done() and reader.get_loop() is _running_loop():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read_events(self, ready: asyncio.Event) -> None:
        try:
            tail = await database_sync_to_async(EventTail.from_now)(gap_seconds=self.gap_seconds)
        except Exception:  # the next member to join starts another reader; sockets catch up by id
            logger.exception("Live updates: the event reader could not start")
            return
        finally:
            ready.set()
        while self.groups:
            try:
                announcements = await database_sync_to_async(tail.read)()
            except Exception:  # a locked or unreachable database: try again at the next look
                logger.exception("Live updates: reading new events failed")
                announcements = []
            for announcement in announcements:
                await self._deliver(announcement)
            await asyncio.sleep(self.interval)

    async def _deliver(self, announcement: Announcement) -> None:
        message = announcement.message()
        for group in announcement.groups:
            if group in self.groups:
                await self.group_send(group, message)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
