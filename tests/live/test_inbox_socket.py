"""The notification centre's socket (tickets/live/inbox.py): agents only, each told of their own
notifications only, as they are written and as they are read; a viewer signed out or no longer an agent
is cut off at the next message. Runs on whichever channel layer is configured (Redis: the `user.<id>`
group; embedded: the events the layer reads from the database)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.live.conftest import Socket, db, run
from tickets import inbox
from tickets.live.consumers import CLOSE_SIGNED_OUT
from tickets.live.inbox import CLOSE_NOT_AN_AGENT
from tickets.models import Notification
from tickets.services import ticket_assign, ticket_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_defaults")]

PATH = "/ws/notifications/"


def new_ticket(requester, subject="Invites bounce"):
    return ticket_create(requester=requester, subject=subject, description="All of them bounce.")


def test_anonymous_and_customers_are_refused(requester):
    async def scenario():
        anonymous = Socket(PATH)
        await anonymous.open()
        assert await anonymous.closed_with() == CLOSE_SIGNED_OUT
        customer = Socket(PATH, user=requester)
        await customer.open()
        assert await customer.closed_with() == CLOSE_NOT_AN_AGENT

    run(scenario)


def test_an_agent_hears_of_their_own_notifications_only(requester, agent, other_agent):
    ticket = new_ticket(requester)
    other_ticket = new_ticket(requester, subject="Reports are empty")

    async def scenario():
        mine = Socket(PATH, user=agent)
        theirs = Socket(PATH, user=other_agent)
        assert (await mine.open())[0] and (await theirs.open())[0]
        assert (await mine.next()) == {"type": "inbox", "unread": "0", "notifications": []}
        assert (await theirs.next())["unread"] == "0"

        await db(ticket_assign, ticket=ticket, actor=other_agent, assignee=agent)
        message = await mine.next()
        assert message["unread"] == "1"
        [item] = message["notifications"]
        assert item["kind"] == "assigned" and item["ticket"] == ticket.reference
        assert item["text"] == f"Assigned to you: {ticket.reference} · S3 · Invites bounce"
        assert item["url"] == f"/admin/tickets/ticket/{ticket.pk}/change/"

        # The other agent's next message is about their own assignment, never about this one.
        await db(ticket_assign, ticket=other_ticket, actor=agent, assignee=other_agent)
        message = await theirs.next()
        assert [n["ticket"] for n in message["notifications"]] == [other_ticket.reference]

        # Read elsewhere (another tab): the count follows, announced (Redis) or at the page's next
        # heartbeat (the embedded layer hears of events only, and reading is none).
        await db(inbox.mark_all_read, agent)
        await mine.send({"type": "ping"})
        assert (await mine.next()) == {"type": "inbox", "unread": "0", "notifications": []}
        await mine.close()
        await theirs.close()

    run(scenario)


def test_a_page_that_shows_notifications_is_sent_only_newer_ones(requester, agent, other_agent):
    ticket = new_ticket(requester)
    ticket_assign(ticket=ticket, actor=other_agent, assignee=agent)
    shown = Notification.objects.get(recipient=agent).pk

    async def scenario():
        socket = Socket(f"{PATH}?after={shown - 1}", user=agent)
        await socket.open()
        first = await socket.next()
        assert [n["id"] for n in first["notifications"]] == [shown]
        await socket.close()
        header = Socket(PATH, user=agent)  # a page that lists none: only the count
        await header.open()
        assert (await header.next()) == {"type": "inbox", "unread": "1", "notifications": []}
        await header.close()

    run(scenario)


def test_a_socket_is_closed_once_its_viewer_is_no_longer_an_agent(requester, agent, other_agent):
    ticket = new_ticket(requester)

    def demote():
        get_user_model().objects.filter(pk=agent.pk).update(is_staff=False)

    async def scenario():
        socket = Socket(PATH, user=agent)
        await socket.open()
        await socket.next()
        await db(demote)
        await db(ticket_assign, ticket=ticket, actor=other_agent, assignee=agent)
        await socket.send({"type": "ping"})
        assert await socket.closed_with() == CLOSE_NOT_AN_AGENT

    run(scenario)


def test_a_bad_client_message_closes_the_socket(agent):
    async def scenario():
        socket = Socket(PATH, user=agent)
        await socket.open()
        await socket.next()
        await socket.send({"type": "typing"})
        assert await socket.closed_with() == 4400

    run(scenario)
