"""Shared by the live-update tests: sockets on the ASGI application (channels' WebsocketCommunicator),
signed in with a real session, run from synchronous tests through `run(scenario)`.

The tests are transactional: events reach sockets after commit (Redis) or from the database (the
embedded layer), as in production. ORM calls inside a scenario go through `db(...)`, which runs them on
the test's own thread and connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

ORIGIN = "http://testserver"
#: How long a socket waits for what a test expects (a deadline, not a pause).
DEADLINE = 5.0


#: The sockets a running scenario opened (`run` closes those still open when it ends).
_opened: list[Socket] = []


def run(scenario: Callable[..., Any], *args: Any) -> Any:
    """Run the coroutine function `scenario` to its end from a synchronous test, then close the sockets
    it left open, as a browser leaving the page does: each consumer ends through its own `disconnect`,
    not by being cancelled when the event loop shuts down (a consumer cancelled in the middle of a
    database call waits for that call, which can wait for the loop's shutdown: the test then hangs)."""

    async def scenario_then_close(*args: Any) -> Any:
        try:
            return await scenario(*args)
        finally:
            opened, _opened[:] = list(_opened), []
            for socket in opened:
                await socket.close_if_open()

    return async_to_sync(scenario_then_close)(*args)


async def db(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` on the test's thread (its database connection)."""
    return await sync_to_async(function)(*args, **kwargs)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Socket:
    """A WebSocket to the ASGI application, as a browser on ORIGIN signed in as `user` opens it."""

    def __init__(self, path: str, *, user=None, cookie: str | None = None, origin: str | None = ORIGIN):
        self.path, self.user, self.cookie, self.origin = path, user, cookie, origin
        self.communicator: WebsocketCommunicator | None = None

    async def open(self) -> tuple[bool, Any]:
        """Connect: (True, None) once accepted, (False, code) if refused at the handshake."""
        from helpdesk.asgi import application

        headers = [(b"host", b"testserver")]
        if self.origin is not None:
            headers.append((b"origin", self.origin.encode()))
        cookie = self.cookie
        if cookie is None and self.user is not None:
            cookie = await db(session_cookie, self.user)
        if cookie is not None:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        self.communicator = WebsocketCommunicator(application, self.path, headers=headers)
        _opened.append(self)
        return await self.communicator.connect(timeout=DEADLINE)

    async def next(self, timeout: float = DEADLINE) -> dict:
        """The next message the server sends (AssertionError if the socket closes instead)."""
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", f"expected a message, got {output}"
        return json.loads(output["text"])

    async def closed_with(self, timeout: float = DEADLINE) -> int:
        """The close code, once the server closes the socket (messages before it are skipped)."""
        while True:
            output = await self.communicator.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)

    async def send(self, data: Any) -> None:
        await self.communicator.send_to(text_data=data if isinstance(data, str) else json.dumps(data))

    async def close(self) -> None:
        await self.communicator.disconnect(timeout=DEADLINE)

    async def close_if_open(self) -> None:
        """Disconnect unless the application already ended (a socket the test closed, or refused)."""
        future = getattr(self.communicator, "future", None)
        if future is not None and not future.done():
            await self.communicator.disconnect(timeout=DEADLINE)


@pytest.fixture(autouse=True, scope="session")
def _private_channel_prefix():
    """Redis keys of this test process's own (pytest-xdist workers share one Redis database)."""
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG", {})
    if "prefix" in config:
        config["prefix"] = f"test-live-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"
        channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _empty_channel_layer():
    """Every test starts with an empty layer (no leftover groups, messages or reader). From a thread of
    its own: a browser test's thread runs Playwright's event loop."""
    layer = get_channel_layer()
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(async_to_sync(layer.flush)).result()
    yield
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(async_to_sync(layer.flush)).result()
