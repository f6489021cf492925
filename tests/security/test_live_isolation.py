"""The isolation matrix of the live updates (tickets/live/): who may subscribe to what over a WebSocket,
and which of every event kind reaches whom: live (one check and rendering per process and audience,
tickets/live/delivery.py), replayed on reconnecting (`?after=`), and over the polling fallback.

The world: organization A with the ticket's requester, an admin and a colleague (who has a ticket of
their own); organization B with a requester (and a ticket) and an admin; an agent; a deactivated
customer of A. Each kind is recorded on A's ticket; then a public reply on each ticket ends the run, and
every socket reads until the last event it may see (events arrive in id order), then compares. A
customer never receives an internal note, an agent-only kind or another organization's (or, for a
requester, a colleague's) event.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tests.live.conftest import Socket, db, run
from tests.live.test_consumers import KIND_PAYLOADS
from tickets import events
from tickets.live.consumers import CLOSE_SIGNED_OUT
from tickets.models import Event, Membership
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_defaults")]

Kind = Event.Kind
#: Who may see A's ticket (`t`), B's (`b`) and A's colleague's (`c`); and who sees internal kinds.
SEES = {
    "requester_a": {"t"},
    "admin_a": {"t", "c"},
    "colleague_a": {"c"},
    "requester_b": {"b"},
    "admin_b": {"b"},
    "agent": {"t", "b", "c"},
}
AGENTS = {"agent"}


class World:
    def __init__(self) -> None:
        org_a, org_b = OrganizationFactory(), OrganizationFactory()
        self.users = {
            "requester_a": CustomerFactory(membership__organization=org_a),
            "admin_a": CustomerFactory(membership__organization=org_a, membership__role="admin"),
            "colleague_a": CustomerFactory(membership__organization=org_a),
            "requester_b": CustomerFactory(membership__organization=org_b),
            "admin_b": CustomerFactory(membership__organization=org_b, membership__role="admin"),
            "agent": AgentFactory(),
        }
        self.deactivated = CustomerFactory(membership__organization=org_a, is_active=False)
        self.tickets = {
            name: ticket_create(requester=self.users[owner], subject=f"Ticket {name}", description="d")
            for name, owner in (("t", "requester_a"), ("b", "requester_b"), ("c", "colleague_a"))
        }
        self.start = Event.objects.order_by("-pk").values_list("pk", flat=True).first()

    def record_every_kind(self) -> dict[int, str]:
        """Every kind on A's ticket, then the end markers (a public reply on each ticket). Returns the
        ticket name of each event recorded."""
        ticket, agent = self.tickets["t"], self.users["agent"]
        recorded = {}
        for kind, payload in KIND_PAYLOADS.items():
            if kind == Kind.NOTE_ADDED:
                ticket_add_note(ticket=ticket, author=agent, body="Internal: their SSO is misconfigured")
                continue
            with transaction.atomic():
                events._record(ticket, payload, None, timezone.now())
        for name, ticket_ in self.tickets.items():
            ticket_reply(ticket=ticket_, author=agent, body=f"End of the run on {name}")
        for event in Event.objects.filter(pk__gt=self.start).select_related("ticket"):
            recorded[event.pk] = next(n for n, t in self.tickets.items() if t.pk == event.ticket_id)
        assert {Event.objects.get(pk=pk).kind for pk in recorded} == set(Kind.values)
        return recorded

    def expected(self, who: str, recorded: dict[int, str], *, ticket: str | None) -> set[int]:
        """The ids `who` may be shown on a ticket's socket (`ticket`) or on the list (None)."""
        kinds = dict(Event.objects.filter(pk__in=recorded).values_list("pk", "kind"))
        return {
            pk
            for pk, name in recorded.items()
            if name in SEES[who]
            and (ticket is None or name == ticket)
            and (who in AGENTS or (kinds[pk] in Event.PUBLIC_KINDS))
        }


@pytest.fixture
def world():
    return World()


@pytest.mark.parametrize("who", [*SEES, "anonymous", "deactivated"])
def test_who_may_subscribe_to_a_ticket_and_to_the_lists(world, who):
    user = world.users.get(who) or (world.deactivated if who == "deactivated" else None)

    async def scenario():
        ticket = Socket(f"/ws/tickets/{world.tickets['t'].pk}/", user=user)
        listing = Socket("/ws/tickets/", user=user)
        assert (await ticket.open())[0] and (await listing.open())[0]
        if who in ("anonymous", "deactivated"):
            assert await ticket.closed_with() == CLOSE_SIGNED_OUT
            assert await listing.closed_with() == CLOSE_SIGNED_OUT
        elif "t" not in SEES[who]:
            assert await ticket.closed_with() == 4404  # as the page answers: not found
            await listing.send({"type": "ping"})
            assert await listing.next() == {"type": "pong"}
        else:
            for socket in (ticket, listing):
                await socket.send({"type": "ping"})
                assert await socket.next() == {"type": "pong"}
        for socket in (ticket, listing):
            await socket.close()

    run(scenario)


def collect(socket: Socket, wanted_markers: set[int]):
    """Messages until every marker in `wanted_markers` arrived (events arrive in id order)."""

    async def reading():
        received = []
        while not wanted_markers <= {message.get("id") for message in received}:
            try:
                received.append(await socket.next())
            except TimeoutError as timeout:
                got = [(m.get("id"), m.get("kind")) for m in received]
                raise AssertionError(f"{socket.path}: waited for {wanted_markers}, got {got}") from timeout
        return received

    return reading()


def test_every_kind_reaches_exactly_whom_it_may_live(world):
    async def scenario():
        sockets = {}
        for who in SEES:
            sockets[(who, None)] = Socket("/ws/tickets/", user=world.users[who])
            for name in SEES[who]:
                sockets[(who, name)] = Socket(f"/ws/tickets/{world.tickets[name].pk}/", user=world.users[who])
        for socket in sockets.values():
            assert (await socket.open())[0]
        recorded = await db(world.record_every_kind)
        for (who, ticket), socket in sockets.items():
            expected = await db(world.expected, who, recorded, ticket=ticket)
            received = await collect(socket, {max(expected)})  # events arrive in id order
            assert {message["id"] for message in received} == expected, (who, ticket)
            if who not in AGENTS:
                assert "misconfigured" not in str(received) and "assignee" not in str(received)
            await socket.close()

    run(scenario)


def test_every_kind_replayed_to_a_reconnecting_page_reaches_exactly_whom_it_may(world, settings):
    settings.LIVE_REPLAY_OVERLAP_SECONDS = 0  # the events just below `after` are their own case
    recorded = world.record_every_kind()

    async def scenario():
        for who in SEES:
            for ticket in [None, *SEES[who]]:
                path = f"/ws/tickets/{world.tickets[ticket].pk}/" if ticket else "/ws/tickets/"
                socket = Socket(f"{path}?after={world.start}", user=world.users[who])
                assert (await socket.open())[0]
                expected = await db(world.expected, who, recorded, ticket=ticket)
                received = await collect(socket, {max(expected)})
                assert {message["id"] for message in received} == expected, (who, ticket)
                await socket.close()

    run(scenario)


@pytest.mark.parametrize("who", list(SEES))
def test_every_kind_polled_reaches_exactly_whom_it_may(world, who, settings):
    settings.LIVE_POLL_MIN_SECONDS = 0
    recorded = world.record_every_kind()
    client = Client()
    client.force_login(world.users[who])
    answer = client.get("/live/tickets/", {"after": world.start})
    assert answer.status_code == 200
    assert {e["id"] for e in answer.json()["events"]} == world.expected(who, recorded, ticket=None)
    for name, ticket in world.tickets.items():
        answer = client.get(f"/live/tickets/{ticket.pk}/", {"after": world.start})
        if name in SEES[who]:
            assert {e["id"] for e in answer.json()["events"]} == world.expected(who, recorded, ticket=name)
        else:
            assert answer.status_code == 404


# --- losing access closes the socket ------------------------------------------------------------------


def test_an_agent_no_longer_staff_loses_the_queue(world):
    agent = world.users["agent"]

    async def scenario():
        queue = Socket("/ws/tickets/", user=agent)
        await queue.open()
        await db(type(agent).objects.filter(pk=agent.pk).update, is_staff=False)
        await db(ticket_reply, ticket=world.tickets["b"], author=world.users["requester_b"], body="Hello?")
        assert await queue.closed_with() == 4403

    run(scenario)


def test_a_password_changed_elsewhere_ends_the_sockets_of_other_sessions(world):
    requester = world.users["requester_a"]

    async def scenario():
        page = Socket(f"/ws/tickets/{world.tickets['t'].pk}/", user=requester)
        await page.open()

        def change_password():
            requester.set_password("a-new-long-password-2026")
            requester.save()

        await db(change_password)
        await db(ticket_reply, ticket=world.tickets["t"], author=world.users["agent"], body="Not for you")
        assert await page.closed_with() == CLOSE_SIGNED_OUT

    run(scenario)


def test_a_requester_made_admin_keeps_the_socket_and_then_sees_the_organizations_tickets(world):
    """A change that widens access is taken too (the socket checks the viewer again, and keeps going)."""
    requester = world.users["requester_a"]

    async def scenario():
        listing = Socket("/ws/tickets/", user=requester)
        await listing.open()
        await db(Membership.objects.filter(user=requester).update, role="admin")
        reply = await db(ticket_reply, ticket=world.tickets["c"], author=world.users["agent"], body="To c")
        event = await db(Event.objects.get, kind=Kind.REPLIED, data__message_id=reply.pk)
        assert (await listing.next())["id"] == event.pk

    run(scenario)
