"""A live page's socket as the browser's script drives it (tickets/static/tickets/live.js), for the tests
against real servers and for bench/realtime.py: asyncio and the `websockets` client (uvicorn's own
WebSocket library, in the venv).

Like the page it opens `path?after=<last id>`, renders each event id once (`rendered`), keeps the highest
id it rendered as its last id, pings with it every `heartbeat` seconds, and when the socket closes
reconnects with exponential backoff and full jitter (a random delay below `base` doubled per attempt, up
to `cap`), except when refused for good (4401, 4403, 4404). It also counts what the page would hide: an id
received more than once on the wire (`duplicates_on_the_wire`), and when each event first arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

REFUSED_FOR_GOOD = {4401, 4403, 4404}


@dataclass
class LiveClient:
    #: e.g. ws://127.0.0.1:8000 (a list: the next server is tried at each reconnection).
    servers: list[str]
    path: str
    cookie: str
    origin: str = "http://127.0.0.1"
    after: int = 0
    heartbeat: float = 25.0
    base: float = 0.5
    cap: float = 30.0
    #: Event ids in the order rendered (each once), with the time each first arrived (time.time()).
    rendered: list[int] = field(default_factory=list)
    arrived: dict[int, float] = field(default_factory=dict)
    received: int = 0
    duplicates_on_the_wire: int = 0
    reloads: int = 0
    connections: int = 0
    closed_codes: list[int | None] = field(default_factory=list)
    refused: int | None = None
    #: Set while a socket is open.
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.seen: set[int] = set()
        self._task: asyncio.Task | None = None
        self._socket = None

    @property
    def last_id(self) -> int:
        return max(self.after, max(self.seen, default=0))

    def start(self) -> LiveClient:
        self._task = asyncio.get_running_loop().create_task(self.run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def drop(self) -> None:
        """Cut this client's connection without a closing handshake (a network that drops it)."""
        socket = self._socket
        if socket is not None:
            socket.transport.abort()

    async def run(self) -> None:
        attempts = 0
        while self.refused is None:
            server = self.servers[self.connections % len(self.servers)]
            opened = False
            try:
                async with connect(
                    f"{server}{self.path}?after={self.last_id}",
                    origin=self.origin,
                    additional_headers={"Cookie": self.cookie},
                    open_timeout=10,
                    ping_interval=None,
                    max_size=2**22,
                ) as socket:
                    self._socket, opened = socket, True
                    self.connections += 1
                    attempts = 0
                    self.connected.set()
                    heartbeat = asyncio.get_running_loop().create_task(self._ping(socket))
                    try:
                        async for text in socket:
                            self._handle(json.loads(text))
                    finally:
                        heartbeat.cancel()
                    self._closed(socket.close_code)
            except ConnectionClosed as closed:
                self._closed(closed.rcvd.code if closed.rcvd else None)
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
                pass
            finally:
                self._socket = None
                self.connected.clear()
            if self.refused is not None:
                return
            attempts = 0 if opened else attempts + 1
            await asyncio.sleep(random.random() * min(self.cap, self.base * 2**attempts))

    def _closed(self, code: int | None) -> None:
        self.closed_codes.append(code)
        if code in REFUSED_FOR_GOOD:
            self.refused = code

    async def _ping(self, socket) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.heartbeat)
                await socket.send(json.dumps({"type": "ping", "after": self.last_id}))

    def _handle(self, payload: dict) -> None:
        if payload.get("type") == "reload":
            self.reloads += 1
            return
        if payload.get("type") != "event":
            return
        self.received += 1
        event_id = payload["id"]
        if event_id in self.seen:
            self.duplicates_on_the_wire += 1
            return
        self.seen.add(event_id)
        self.arrived[event_id] = time.time()
        self.rendered.append(event_id)

    async def until_rendered(self, ids: set[int], *, timeout: float) -> None:
        """Until every id in `ids` was rendered (AssertionError naming the missing ones at the deadline)."""
        deadline = time.monotonic() + timeout
        while not ids <= self.seen:
            if time.monotonic() > deadline:
                missing = sorted(ids - self.seen)
                raise AssertionError(f"not rendered within {timeout} s: {missing[:20]} ({len(missing)})")
            await asyncio.sleep(0.02)
