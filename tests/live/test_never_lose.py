"""No live update is lost, against real processes: the web server (gunicorn with the production uvicorn
worker, a subprocess on a fixed free port), a PRIVATE `redis-server` (a subprocess on a free port, never
the shared Redis), the test's PostgreSQL, and clients that behave as the pages' script does
(tests/live/live_client.py: reconnect with backoff and jitter, `?after=<last id>`, each id rendered once).

Events are committed by this process through the services, and published to the private Redis as every
process publishes them (tickets/live_updates.py). In each case every event a viewer may see is rendered
exactly once, in id order, and a customer never one they may not:

(a) the server process restarted mid-stream (events committed while it is down included);
(b) Redis restarted empty (the channel layer's groups and queued messages gone) mid-stream;
(c) the connection dropped mid-burst, without a closing handshake;
(d) an event committed through one server process reaches a client connected to another one.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future

import pytest
from channels.layers import channel_layers
from django.db import connection

from tests.live.live_client import LiveClient
from tests.live.test_servers import AsgiWebServer
from tests.reliability.conftest import RedisServer, free_port
from tests.sla.conftest import IN_CI, database_url, wait_until
from tickets.models import ApiToken, Event
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

#: How long every committed event may take to be rendered after the fault is over.
DEADLINE = 30.0


class FixedPortServer(AsgiWebServer):
    """The web service on a port of its own that stays the same across restarts (a browser reconnects to
    the same address), one worker (this machine's cores are shared)."""

    def __init__(self, *, port: int, **kwargs) -> None:
        super().__init__(workers=1, **kwargs)
        self.fixed_port = port

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("127.0.0.1:0")] = f"127.0.0.1:{self.fixed_port}"
        return command

    def restart(self) -> None:
        self.stop()
        self.port = None
        self.start()

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.fixed_port}"


class Loop:
    """An asyncio loop in a thread of its own, where the clients run while the test commits events."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-clients", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = DEADLINE + 10):
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    if connection.vendor != "postgresql":
        reason = "the server subprocess shares the test database on PostgreSQL"
        pytest.fail(f"CI=true: {reason}") if IN_CI else pytest.skip(reason)
    server = RedisServer(log_path=tmp_path / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture
def layer_on(private_redis, settings):
    """This process publishes to the private Redis, under a prefix of the test's own (as the servers)."""
    prefix = f"test-never-lose-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",  # as helpdesk/settings.py
            "CONFIG": {"hosts": [private_redis.url], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    yield prefix
    channel_layers.backends.clear()


@pytest.fixture
def loop():
    running = Loop()
    yield running
    running.close()


def server_on(tmp_path, redis: RedisServer, prefix: str, name: str = "server") -> FixedPortServer:
    return FixedPortServer(
        port=free_port(),
        database_url=database_url(connection.settings_dict),
        redis_url=redis.url,
        log_path=tmp_path / f"{name}.log",
        # Short heartbeats and waits, so that a test of a minute shows what a day would.
        extra_env={"LIVE_CHANNEL_PREFIX": prefix, "LIVE_LAYER_CHECK_SECONDS": "0.5"},
    )


def client(server_urls: list[str], path: str, cookie: str) -> LiveClient:
    """A page's socket that reconnects quickly (the page's backoff, scaled down)."""
    return LiveClient(servers=server_urls, path=path, cookie=cookie, base=0.1, cap=1.0, heartbeat=5.0)


def visible_ids(ticket, *, agent: bool) -> set[int]:
    events = Event.objects.filter(ticket=ticket)
    if not agent:
        events = events.filter(kind__in=Event.PUBLIC_KINDS)
    return set(events.values_list("pk", flat=True))


def commit_some(ticket, agent, count: int, label: str) -> None:
    """`count` agent replies, with an internal note after every third (agents' sockets only)."""
    for number in range(count):
        ticket_reply(ticket=ticket, author=agent, body=f"{label} {number}")
        if number % 3 == 2:
            ticket_add_note(ticket=ticket, author=agent, body=f"Internal {label} {number}: SSO misconfigured")


def assert_exactly_once(page: LiveClient, expected: set[int]) -> None:
    assert len(page.rendered) == len(set(page.rendered))  # the page's own bookkeeping, for the record
    assert set(page.rendered) == expected, sorted(set(page.rendered) ^ expected)
    assert page.rendered == sorted(page.rendered)


def follow(loop: Loop, pages: list[LiveClient]) -> None:
    async def start():
        for page in pages:
            page.start()
        for page in pages:
            await asyncio.wait_for(page.connected.wait(), DEADLINE)

    loop.run(start())


def until_rendered(loop: Loop, page: LiveClient, expected: set[int]) -> None:
    loop.run(page.until_rendered(expected, timeout=DEADLINE))


def stop(loop: Loop, pages: list[LiveClient]) -> None:
    async def stop_all():
        for page in pages:
            await page.stop()

    loop.run(stop_all())


def scenario(
    tmp_path, private_redis, prefix, loop, requester, agent, fault: Callable[[FixedPortServer, list], None]
) -> tuple[list[LiveClient], object]:
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    with server_on(tmp_path, private_redis, prefix) as server:
        customer_page = client([server.ws], f"/ws/tickets/{ticket.pk}/", server.sign_in(requester)["Cookie"])
        agent_list = client([server.ws], "/ws/tickets/", server.sign_in(agent)["Cookie"])
        pages = [customer_page, agent_list]
        follow(loop, pages)
        commit_some(ticket, agent, 6, "Before")
        fault(server, pages, ticket, agent)
        commit_some(ticket, agent, 6, "After")
        until_rendered(loop, customer_page, visible_ids(ticket, agent=False))
        until_rendered(loop, agent_list, visible_ids(ticket, agent=True))
        stop(loop, pages)
    assert_exactly_once(customer_page, visible_ids(ticket, agent=False))
    assert_exactly_once(agent_list, visible_ids(ticket, agent=True))
    assert "Internal" not in str(customer_page.rendered)
    return pages, ticket


def test_a_server_restarted_mid_stream_loses_nothing(
    tmp_path, private_redis, layer_on, loop, requester, agent
):
    def restart(server, pages, ticket, agent):
        server.stop()
        commit_some(ticket, agent, 4, "While the server is down")  # published; no one is listening
        server.restart()

    pages, _ = scenario(tmp_path, private_redis, layer_on, loop, requester, agent, restart)
    assert all(page.connections >= 2 for page in pages)


def test_a_redis_restarted_empty_mid_stream_loses_nothing(
    tmp_path, private_redis, layer_on, loop, requester, agent
):
    """Redis comes back empty: the groups the sockets had joined are gone. Whether a socket's server
    notices at once (its channel's read fails, the socket closes and the page reconnects) or only at its
    next look (`LIVE_LAYER_CHECK_SECONDS`: it joins its groups again and sends what it missed), every
    event arrives, and none twice."""

    def restart_redis(server, pages, ticket, agent):
        private_redis.stop()
        commit_some(ticket, agent, 4, "While Redis is down")  # publishing fails; the changes stand
        private_redis.start()

    scenario(tmp_path, private_redis, layer_on, loop, requester, agent, restart_redis)


def test_subscriptions_forgotten_by_redis_are_restored_while_the_sockets_stay_open(
    tmp_path, private_redis, layer_on, loop, requester, agent
):
    """Redis forgets what it held (flushed, failed over to an empty replica, keys evicted) while every
    connection stays up, so no socket closes and no page reconnects (with channels-redis' list layer the
    subscriptions themselves were keys: gone, the sockets heard nothing more). The pages here never ping
    (a heartbeat would catch up by itself): the server notices at its next look, and the sockets
    subscribe again and send what they missed."""
    import redis

    def forget(server, pages, ticket, agent):
        client = redis.Redis.from_url(private_redis.url)
        try:
            client.flushall()
        finally:
            client.close()

    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    with server_on(tmp_path, private_redis, layer_on) as server:
        pages = [
            LiveClient(servers=[server.ws], path=path, cookie=server.sign_in(user)["Cookie"], heartbeat=3600)
            for user, path in ((requester, f"/ws/tickets/{ticket.pk}/"), (agent, "/ws/tickets/"))
        ]
        follow(loop, pages)
        commit_some(ticket, agent, 3, "Before")
        until_rendered(loop, pages[1], visible_ids(ticket, agent=True))
        forget(server, pages, ticket, agent)
        commit_some(ticket, agent, 6, "After")
        until_rendered(loop, pages[0], visible_ids(ticket, agent=False))
        until_rendered(loop, pages[1], visible_ids(ticket, agent=True))
        wait_until(lambda: "rejoining" in server.log(), timeout=10, message="the flush went unnoticed")
        stop(loop, pages)
    assert_exactly_once(pages[0], visible_ids(ticket, agent=False))
    assert_exactly_once(pages[1], visible_ids(ticket, agent=True))
    assert [page.connections for page in pages] == [1, 1]


def test_a_connection_dropped_mid_burst_loses_nothing(
    tmp_path, private_redis, layer_on, loop, requester, agent
):
    def drop_mid_burst(server, pages, ticket, agent):
        dropped = []

        def burst():
            for number in range(30):
                ticket_reply(ticket=ticket, author=agent, body=f"Burst {number}")
                if number == 10:
                    for page in pages:
                        asyncio.run_coroutine_threadsafe(page.drop(), loop.loop).result(5)
                    dropped.append(len(pages[0].rendered))

        burst()
        assert dropped

    pages, _ = scenario(tmp_path, private_redis, layer_on, loop, requester, agent, drop_mid_burst)
    assert all(page.connections >= 2 for page in pages)


def test_an_event_committed_through_one_server_reaches_a_socket_on_another(
    tmp_path, private_redis, layer_on, loop, requester, agent
):
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    _, key = ApiToken.objects.issue(user=agent, name="test")
    first = server_on(tmp_path, private_redis, layer_on, "first")
    second = server_on(tmp_path, private_redis, layer_on, "second")
    second.secret_key = first.secret_key
    with first, second:
        page = client([second.ws], f"/ws/tickets/{ticket.pk}/", second.sign_in(requester)["Cookie"])
        follow(loop, [page])
        reply = first.request(
            "POST",
            f"/api/v1/tickets/{ticket.reference}/messages/",
            body={"body": "Answered through the first server"},
            headers={"Authorization": f"Token {key}"},
        )
        assert reply.status == 201, reply.text
        event = Event.objects.get(ticket=ticket, kind=Event.Kind.REPLIED)
        until_rendered(loop, page, {event.pk})
        stop(loop, [page])
    assert page.connections == 1  # delivered live, not by reconnecting
