"""Publishing live updates after commit (tickets/live_updates.py) when the channel layer's Redis is down
or hung: the change stands, the request waits at most once for the publish's timeout, and the process
then skips the layer for a while (the pages catch up by event id at their next heartbeat)."""

import socket
import time

import pytest
from django.test import override_settings

from helpdesk import outages
from tickets import live_updates
from tickets.models import Message
from tickets.services import ticket_create, ticket_reply

pytestmark = pytest.mark.django_db


def redis_layer(address: str) -> dict:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": address, "socket_connect_timeout": 1}]},
        }
    }


@pytest.fixture(autouse=True)
def _no_outage_before_or_after():
    outages._outages.pop(live_updates._outage().name, None)
    yield
    outages._outages.pop(live_updates._outage().name, None)


@pytest.fixture
def hung_redis():
    """A port that accepts connections (the kernel's backlog) and never answers: a frozen Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def timed_reply(ticket, agent, capture) -> float:
    started = time.monotonic()
    with capture(execute=True):
        ticket_reply(ticket=ticket, author=agent, body="Still answered")
    return time.monotonic() - started


@pytest.mark.parametrize("down", ["refused", "hung"])
def test_a_change_stands_when_the_layer_is_down_and_only_the_first_publish_waits(
    requester, agent, django_capture_on_commit_callbacks, hung_redis, down
):
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    address = "redis://127.0.0.1:1/0" if down == "refused" else hung_redis
    with override_settings(CHANNEL_LAYERS=redis_layer(address)):
        first = timed_reply(ticket, agent, django_capture_on_commit_callbacks)
        assert live_updates._outage().down()
        second = timed_reply(ticket, agent, django_capture_on_commit_callbacks)
    assert Message.objects.filter(ticket=ticket, body="Still answered").count() == 2
    assert first < live_updates.PUBLISH_TIMEOUT_SECONDS + 1.5
    assert second < 0.5, "the outage is remembered: no second wait"
