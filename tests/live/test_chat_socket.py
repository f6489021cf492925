"""Chat on the ticket's socket (tickets/live/consumers.py): a customer's line is written through the chat
service and comes back as the ticket's event (once); bad lines are answered with the field that is wrong;
lines are size- and rate-limited; an agent's typing reaches the customer; every agent socket counts as
"online" until it closes."""

from __future__ import annotations

import json

import pytest

from tests.factories import CustomerFactory
from tests.live.conftest import Socket, db, run
from tickets import chats, presence
from tickets.live.consumers import CLOSE_MESSAGE_TOO_BIG
from tickets.models import Channel, Chat, Message, Status
from tickets.services import chat_start, ticket_change_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_defaults")]


@pytest.fixture(autouse=True)
def _nobody_online():
    from django.core.cache import cache

    cache.delete(presence.KEY)
    yield
    cache.delete(presence.KEY)


def start(customer, body="Hi, is anyone there?"):
    return chat_start(customer=customer, subject="Calendar sync down", severity="S2", body=body).ticket


async def next_of(socket, kind: str) -> dict:
    """The next message of type `kind` (typing and other signals before it are skipped)."""
    while True:
        message = await socket.next()
        if message["type"] == kind:
            return message


def test_a_chat_line_on_the_socket_is_saved_once_and_comes_back_as_the_tickets_event(requester):
    ticket = start(requester)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        assert (await socket.open())[0]
        await socket.send({"type": "chat", "body": "  It started at 9 PT  ", "ref": "line-1"})
        answers = [await socket.next(), await socket.next()]
        sent = next(a for a in answers if a["type"] == "chat_sent")
        event = next(a for a in answers if a["type"] == "event")
        assert sent["ref"] == "line-1"
        assert event["message"]["id"] == sent["message"] and event["message"]["body"] == "It started at 9 PT"
        await socket.close()

    run(scenario)
    message = Message.objects.get(ticket=ticket)
    assert (message.body, message.channel, message.author_id) == (
        "It started at 9 PT",
        Channel.CHAT,
        requester.pk,
    )
    assert Chat.objects.get().last_message_at == message.created_at


@pytest.mark.parametrize(
    ("line", "field"),
    [({"body": "   "}, "body"), ({"body": "x" * 5001}, "body"), ({"body": 42}, "body"), ({}, "body")],
)
def test_a_bad_line_is_answered_with_the_field_and_nothing_is_saved(requester, line, field):
    ticket = start(requester)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        await socket.open()
        await socket.send({"type": "chat", "ref": "x", **line})
        answer = await socket.next()
        assert answer["type"] == "chat_error" and answer["ref"] == "x" and answer["errors"][field]
        await socket.close()

    run(scenario)
    assert not Message.objects.exists()


def test_a_line_on_a_resolved_ticket_names_the_ticket(requester, agent):
    ticket = start(requester)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        await socket.open()
        await socket.send({"type": "chat", "body": "Still there?", "ref": "r"})
        answer = await next_of(socket, "chat_error")
        assert "ticket" in answer["errors"]
        await socket.close()

    run(scenario)
    assert not Message.objects.exists()


def test_a_colleague_who_may_not_see_the_ticket_cannot_even_connect(requester):
    ticket = start(requester)
    colleague = CustomerFactory(membership__organization=requester.membership.organization)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=colleague)
        await socket.open()
        assert await socket.closed_with() == 4404

    run(scenario)


def test_chat_lines_are_rate_limited_without_closing_the_socket(requester, settings):
    settings.CHAT_MESSAGES_PER_MINUTE = 1  # a burst of 10, then one a minute
    ticket = start(requester)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        await socket.open()
        for number in range(11):
            await socket.send({"type": "chat", "body": f"line {number}", "ref": f"r{number}"})
        refused = await next_of(socket, "chat_error")
        assert refused["ref"] == "r10" and "faster" in refused["errors"]["body"][0]
        await socket.send({"type": "ping"})
        await next_of(socket, "pong")  # still open
        await socket.close()

    run(scenario)
    assert Message.objects.count() == 10


def test_a_line_over_the_size_limit_closes_the_socket(requester, settings):
    settings.CHAT_MESSAGE_MAX_BYTES = 4096
    ticket = start(requester)

    async def scenario():
        socket = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        await socket.open()
        await socket.send(json.dumps({"type": "chat", "body": "x" * 5000, "ref": "big"}))
        assert await socket.closed_with() == CLOSE_MESSAGE_TOO_BIG

    run(scenario)
    assert not Message.objects.exists()


def test_an_agent_cannot_chat_on_the_socket_but_their_typing_reaches_the_customer(requester, agent):
    ticket = start(requester)

    async def scenario():
        customer = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        console = Socket(f"/ws/tickets/{ticket.pk}/", user=agent)
        await customer.open()
        await console.open()
        await console.send({"type": "chat", "body": "Hello", "ref": "a"})
        refused = await next_of(console, "chat_error")
        assert "console" in refused["errors"]["body"][0]
        await console.send({"type": "typing", "internal": False})
        typing = await next_of(customer, "typing")
        assert typing["agent"] is True and typing["name"] == agent.get_full_name()
        await customer.close()
        await console.close()

    run(scenario)
    assert not Message.objects.exists()


def test_an_agents_socket_makes_an_agent_online_until_it_closes(requester, agent):
    ticket = start(requester)

    async def scenario():
        assert not await db(chats.has_agent_online)
        console = Socket("/ws/tickets/", user=agent)
        await console.open()
        await console.send({"type": "ping"})
        await next_of(console, "pong")
        assert await db(chats.has_agent_online)
        customer = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)  # customers never count
        await customer.open()
        await console.close()
        assert not await db(chats.has_agent_online)
        await customer.close()

    run(scenario)


def test_a_customers_heartbeat_says_whether_an_agent_is_online(requester, agent):
    ticket = start(requester)

    async def scenario():
        customer = Socket(f"/ws/tickets/{ticket.pk}/", user=requester)
        await customer.open()
        await customer.send({"type": "ping"})
        assert "agents_online" not in await next_of(customer, "pong")  # only when asked
        await customer.send({"type": "ping", "agents": True})
        assert (await next_of(customer, "pong"))["agents_online"] is False
        console = Socket("/ws/tickets/", user=agent)
        await console.open()
        await console.send({"type": "ping", "agents": True})
        assert "agents_online" not in await next_of(console, "pong")  # only customers' chat sockets
        await customer.send({"type": "ping", "agents": True})
        assert (await next_of(customer, "pong"))["agents_online"] is True
        await console.close()
        await customer.close()

    run(scenario)
