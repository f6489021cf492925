"""Keeping the sockets subscribed, and caught up, when Redis fails: the failure where live updates
silently stop after a Redis hiccup until the web server is restarted.

Redis pub/sub (the production layer) delivers to whoever is subscribed at that moment: what is published
while a web process's connection is down, or while publishers skip a Redis they found down, reaches no
socket. And a Redis restarted, failed over to another server or flushed holds none of what it held
(channels-redis' list layer keeps its subscriptions as keys there, which are then gone while the sockets
stay open).

So each web process keeps a marker key of its own in every Redis of the layer and sets it every
LIVE_LAYER_CHECK_SECONDS (one command per look, on a connection of its own). When the marker is gone, or
a look failed and a later one succeeds, the process's sockets subscribe again and each sends what it
missed since the last event it sent, from the database (`LiveConsumer.rejoin`). Publishers skip the
layer for a while after it failed (tickets.live_updates.PUBLISH_RETRY_AFTER), so the sockets catch up
once more when that is over.

The embedded layer keeps its groups in the process and reads events from the database: nothing to watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref

from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import TimeoutError as RedisTimeoutError

from helpdesk.health import channel_layer_redis_urls
from tickets.live_updates import PUBLISH_RETRY_AFTER, reads_events_itself

logger = logging.getLogger(__name__)

#: How long the marker outlives a process that stopped looking (it is set again at every look).
MARKER_SECONDS = 3600


class LayerWatch:
    """The watch of one process (event loop) over its sockets' subscriptions on a channels-redis layer."""

    def __init__(self, layer, urls: list[str], interval: float) -> None:
        self.layer = layer
        self.interval = interval
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
        self.marker = f"{prefix}:live-watch:{uuid.uuid4().hex}"
        self.clients = [
            aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5) for url in urls
        ]
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.task: asyncio.Task | None = None
        #: Whether every Redis of the layer held the marker at the last look (None: not looked yet).
        self.intact: bool | None = None
        self.repairs = 0
        self.later: set[asyncio.Task] = set()

    def follow(self, socket) -> None:
        self.sockets.add(socket)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run())

    def forget(self, socket) -> None:
        self.sockets.discard(socket)

    async def run(self) -> None:
        try:
            while self.sockets:
                await self.look()
                await asyncio.sleep(self.interval)
        finally:
            self.intact = None  # a later socket starts a new watch, whose first look sets the marker
            for client in self.clients:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def look(self) -> None:
        try:
            held = await self._marker_held()
        except (TimeoutError, RedisTimeoutError):  # slow (a busy machine), not gone: look again
            return
        except Exception as error:  # noqa: BLE001 - unreachable or failing: repair once it answers again
            if self.intact is not False:
                logger.warning("Live updates: the channel layer failed (%s); sockets rejoin once back", error)
            self.intact = False
            return
        lost = self.intact is False or (self.intact is True and not held)
        self.intact = True
        if lost:
            self.repairs += 1
            logger.warning("Live updates: the channel layer lost this process's subscriptions; rejoining")
            await self.repair()
            # What publishers skipped while they believed the layer down, once they publish again.
            task = asyncio.get_running_loop().create_task(self._catch_up_later())
            self.later.add(task)
            task.add_done_callback(self.later.discard)

    async def _catch_up_later(self) -> None:
        await asyncio.sleep(PUBLISH_RETRY_AFTER + self.interval)
        await self.repair(rejoin=False)

    async def repair(self, *, rejoin: bool = True) -> None:
        for socket in list(self.sockets):
            with contextlib.suppress(Exception):  # a socket closing meanwhile; the others go on
                await socket.rejoin(join=rejoin)

    async def _marker_held(self) -> bool:
        """Set the marker in every Redis of the layer; whether each already held it."""
        held = True
        for client in self.clients:
            previous = await client.set(self.marker, "1", ex=MARKER_SECONDS, get=True)
            held = held and previous is not None
        return held


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LayerWatch] = weakref.WeakKeyDictionary()


def watch_for(layer) -> LayerWatch | None:
    """This event loop's watch over `layer`; None for a layer with no Redis (the embedded one)."""
    urls = channel_layer_redis_urls()
    if reads_events_itself(layer) or not urls:
        return None
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None or watch.layer is not layer:
        watch = _watches[loop] = LayerWatch(layer, urls, settings.LIVE_LAYER_CHECK_SECONDS)
    return watch
