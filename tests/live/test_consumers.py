"""The live-update sockets (tickets/live/consumers.py) on the ASGI application: who may connect, who is
shown which event (the isolation matrix: a customer of organization A, one of B, an agent; every kind;
internal notes never on a customer's socket), catching up by event id, and the per-event checks that
end a socket whose viewer was signed out, deactivated or moved to another organization.

A negative ("never delivered") is shown without waiting for nothing: a visible event is recorded after
the invisible one, and it must be the next message (events arrive in the order they were recorded)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from sla.models import Level, Metric
from tests.factories import CustomerFactory
from tests.live.conftest import Socket, db, run
from tickets import events
from tickets.events import (
    Assigned,
    AttachmentAdded,
    DetailsChanged,
    EscalationFired,
    MessageAdded,
    SatisfactionRated,
    SeverityChanged,
    SlaMet,
    SlaPolicyChanged,
    StatusChanged,
    TicketCreated,
)
from tickets.live import consumers
from tickets.live.consumers import CLOSE_SIGNED_OUT
from tickets.models import Event, Membership, Status
from tickets.services import ticket_add_note, ticket_change_status, ticket_create, ticket_reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_defaults")]

Kind = Event.Kind


def new_ticket(requester, subject="Invites bounce"):
    return ticket_create(requester=requester, subject=subject, description="All of them bounce.")


def last_event_id(ticket=None) -> int:
    events_ = Event.objects.filter(ticket=ticket) if ticket else Event.objects.all()
    return events_.order_by("-pk").values_list("pk", flat=True).first() or 0


def ticket_path(ticket, after=None) -> str:
    return f"/ws/tickets/{ticket.pk}/" + (f"?after={after}" if after is not None else "")


# --- connecting -------------------------------------------------------------------------------------


def test_an_anonymous_socket_is_closed_with_4401(requester):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket))
        assert (await socket.open())[0]
        assert await socket.closed_with() == CLOSE_SIGNED_OUT

    run(scenario)


def test_a_forged_session_cookie_is_anonymous(requester):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), cookie="not-a-session")
        await socket.open()
        assert await socket.closed_with() == CLOSE_SIGNED_OUT

    run(scenario)


@pytest.mark.parametrize("origin", ["http://evil.example", None])
def test_a_socket_from_another_origin_is_refused(requester, origin):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester, origin=origin)
        connected, _ = await socket.open()
        assert not connected

    run(scenario)


def test_a_ticket_of_another_organization_is_not_found(requester, outsider):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=outsider)
        await socket.open()
        assert await socket.closed_with() == 4404

    run(scenario)


def test_a_colleagues_ticket_is_not_found_for_a_requester_but_shown_to_the_admin(requester, org_admin):
    colleague = CustomerFactory(membership__organization=requester.membership.organization)
    ticket = new_ticket(colleague)

    async def scenario():
        refused = Socket(ticket_path(ticket), user=requester)
        await refused.open()
        assert await refused.closed_with() == 4404
        admin = Socket(ticket_path(ticket), user=org_admin)
        await admin.open()
        reply = await db(ticket_reply, ticket=ticket, author=colleague, body="Any news?")
        assert (await admin.next())["message"]["id"] == reply.pk
        await admin.close()

    run(scenario)


def test_an_unknown_route_is_refused(requester):
    async def scenario():
        socket = Socket("/ws/nothing-here/", user=requester)
        connected, _ = await socket.open()
        assert not connected

    run(scenario)


# --- who sees what ----------------------------------------------------------------------------------


def test_the_customer_sees_public_replies_and_never_an_internal_note(requester, agent):
    ticket = new_ticket(requester)

    async def scenario():
        customer = Socket(ticket_path(ticket), user=requester)
        console = Socket(ticket_path(ticket), user=agent)
        await customer.open()
        await console.open()
        note = await db(ticket_add_note, ticket=ticket, author=agent, body="Secret: their SSO is broken")
        reply = await db(ticket_reply, ticket=ticket, author=agent, body="We are on it.")

        seen = await customer.next()
        assert seen["kind"] == Kind.REPLIED and seen["message"]["id"] == reply.pk
        assert seen["message"]["body"] == "We are on it."
        assert seen["message"]["author"].endswith("(support)")
        assert seen["ticket"]["status"] == Status.OPEN  # the agent's reply opened it
        assert [p["kind"] for p in seen["ticket"]["promises"]]  # the SLA promise, re-rendered

        kinds = []
        while Kind.REPLIED not in kinds:
            message = await console.next()
            kinds.append(message["kind"])
            if message["kind"] == Kind.NOTE_ADDED:
                assert message["message"] == {**message["message"], "id": note.pk, "internal": True}
        assert Kind.NOTE_ADDED in kinds
        await customer.close()
        await console.close()

    run(scenario)


KIND_PAYLOADS = {
    Kind.CREATED: TicketCreated(severity="S3", channel="portal"),
    Kind.STATUS_CHANGED: StatusChanged(previous="new", current="new"),
    Kind.SEVERITY_CHANGED: SeverityChanged(previous="S3", current="S3"),
    Kind.ASSIGNED: Assigned(previous_name="", current_name="agent"),
    Kind.NOTE_ADDED: MessageAdded(message_id=0, internal=True),
    Kind.ATTACHMENT_ADDED: AttachmentAdded(name="notes.txt", internal=True),
    Kind.INTAKE_UPDATED: DetailsChanged(fields=["feature"]),
    Kind.SLA_POLICY_CHANGED: SlaPolicyChanged(previous="Standard", current="Enterprise"),
    Kind.SLA_MET: SlaMet(metric=Metric.FIRST_RESPONSE),
    Kind.ESCALATED: EscalationFired(metric=Metric.FIRST_RESPONSE, level=Level.PAGE, escalation_id=1),
    Kind.SLA_AT_RISK: EscalationFired(metric=Metric.RESOLUTION, level=Level.AT_RISK, escalation_id=2),
    Kind.SLA_BREACHED: EscalationFired(metric=Metric.RESOLUTION, level=Level.BREACH, escalation_id=3),
    Kind.SATISFACTION_RATED: SatisfactionRated(rating="good"),
}


def test_every_kind_against_the_isolation_matrix(requester, outsider, agent):
    """For each kind (all but a public reply, which ends each round): the agent is shown it on the
    ticket's socket and the queue's; the requester only when the kind is public; organization B's
    customer never, on any socket."""
    assert set(KIND_PAYLOADS) | {Kind.REPLIED} == set(Kind.values)
    ticket = new_ticket(requester)
    outsider_ticket = new_ticket(outsider, subject="B's own")

    def record(kind):
        payload = KIND_PAYLOADS[kind]
        if kind == Kind.NOTE_ADDED:
            note = ticket_add_note(ticket=ticket, author=agent, body="between us")
            return Event.objects.get(ticket=ticket, kind=kind, data__message_id=note.pk)
        with transaction.atomic():
            return events._record(ticket, payload, None, timezone.now())

    async def scenario():
        sockets = {
            "agent-ticket": Socket(ticket_path(ticket), user=agent),
            "agent-queue": Socket("/ws/tickets/", user=agent),
            "requester-ticket": Socket(ticket_path(ticket), user=requester),
            "requester-list": Socket("/ws/tickets/", user=requester),
            "outsider-list": Socket("/ws/tickets/", user=outsider),
        }
        for socket in sockets.values():
            assert (await socket.open())[0]
        for kind in KIND_PAYLOADS:
            event = await db(record, kind)
            # A public reply on each ticket ends the round: whoever gets nothing else gets that next.
            reply = await db(ticket_reply, ticket=ticket, author=requester, body=f"after {kind}")
            own = await db(ticket_reply, ticket=outsider_ticket, author=outsider, body=f"B after {kind}")
            reply_event = await db(Event.objects.get, kind=Kind.REPLIED, data__message_id=reply.pk)
            own_event = await db(Event.objects.get, kind=Kind.REPLIED, data__message_id=own.pk)
            public = kind in Event.PUBLIC_KINDS
            for name, socket in sockets.items():
                if name == "outsider-list":
                    assert (await socket.next())["id"] == own_event.pk, kind
                    continue
                shows = name.startswith("agent") or public
                received = [await socket.next()]
                if shows:
                    assert received[0]["id"] == event.pk, (name, kind)
                    assert received[0]["kind"] == kind
                    received.append(await socket.next())
                if name == "agent-queue":  # the queue hears of organization B's ticket too
                    ids = {received[-1]["id"], (await socket.next())["id"]}
                    assert ids == {reply_event.pk, own_event.pk}, (name, kind)
                else:
                    assert received[-1]["id"] == reply_event.pk, (name, kind)
        for socket in sockets.values():
            await socket.close()

    run(scenario)


def test_a_customer_socket_never_carries_a_notes_body(requester, agent):
    """Even asked to catch up from the start: the note's event is not in a customer's stream at all."""
    ticket = new_ticket(requester)
    ticket_add_note(ticket=ticket, author=agent, body="Secret: their SSO is broken")
    ticket_reply(ticket=ticket, author=agent, body="Looking into it.")

    async def scenario():
        socket = Socket(ticket_path(ticket, after=0), user=requester)
        await socket.open()
        received = [await socket.next(), await socket.next()]  # created, then the reply
        assert [m["kind"] for m in received] == [Kind.CREATED, Kind.REPLIED]
        assert "Secret" not in str(received)
        await socket.close()

    run(scenario)


def test_the_list_of_a_requester_shows_their_own_tickets_only(requester, org_admin):
    colleague = CustomerFactory(membership__organization=requester.membership.organization)
    mine = new_ticket(requester, subject="Mine")
    theirs = new_ticket(colleague, subject="A colleague's")

    async def scenario():
        own_list = Socket("/ws/tickets/", user=requester)
        admin_list = Socket("/ws/tickets/", user=org_admin)
        await own_list.open()
        await admin_list.open()
        await db(ticket_reply, ticket=theirs, author=colleague, body="hello?")
        await db(ticket_change_status, ticket=mine, actor=requester, status=Status.RESOLVED)
        first = await own_list.next()
        assert first["ticket"]["id"] == mine.pk and first["ticket"]["status"] == Status.RESOLVED
        assert [(await admin_list.next())["ticket"]["id"] for _ in range(2)] == [theirs.pk, mine.pk]
        await own_list.close()
        await admin_list.close()

    run(scenario)


# --- catching up ------------------------------------------------------------------------------------


@pytest.fixture
def no_overlap(settings):
    """Catch up strictly after the page's last id (the overlap for late commits is tested on its own)."""
    settings.LIVE_REPLAY_OVERLAP_SECONDS = 0


@pytest.mark.usefixtures("no_overlap")
def test_a_reconnecting_page_gets_what_it_missed_once_then_live(requester, agent):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket, after=await db(last_event_id, ticket)), user=requester)
        await socket.open()
        first = await db(ticket_reply, ticket=ticket, author=agent, body="First answer")
        seen = [await socket.next(), await socket.next()]  # the reply, and the status it opened
        assert seen[0]["message"]["id"] == first.pk
        assert seen[1]["change"] == {
            "from": Status.NEW,
            "to": Status.OPEN,
            "from_label": "New",
            "to_label": "Open",
        }
        await socket.close()

        # Offline: a note (never for the customer) and two replies.
        await db(ticket_add_note, ticket=ticket, author=agent, body="internal")
        missed = [await db(ticket_reply, ticket=ticket, author=agent, body=f"While away {n}") for n in (1, 2)]

        again = Socket(ticket_path(ticket, after=seen[1]["id"]), user=requester)
        await again.open()
        caught_up = [await again.next(), await again.next()]
        assert [m["message"]["id"] for m in caught_up] == [m.pk for m in missed]
        live = await db(ticket_reply, ticket=ticket, author=agent, body="And now live")
        assert (await again.next())["message"]["id"] == live.pk
        await again.close()

    run(scenario)


@pytest.mark.usefixtures("no_overlap")
def test_a_ping_with_the_last_id_sends_what_the_socket_missed(requester, agent, monkeypatch):
    # At most every PING_CATCH_UP_SECONDS after the socket opened or last caught up; here at once.
    monkeypatch.setattr(consumers, "PING_CATCH_UP_SECONDS", 0)
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)  # no `after`: nothing to catch up on
        await socket.open()
        await socket.send({"type": "ping"})
        assert await socket.next() == {"type": "pong"}
        created = await db(Event.objects.get, ticket=ticket, kind=Kind.CREATED)
        await socket.send({"type": "ping", "after": created.pk - 1})
        assert (await socket.next())["id"] == created.pk
        assert await socket.next() == {"type": "pong"}
        await socket.close()

    run(scenario)


def test_too_much_missed_asks_the_page_to_reload(requester, agent, settings):
    settings.LIVE_REPLAY_LIMIT = 2
    ticket = new_ticket(requester)
    for n in range(3):
        ticket_reply(ticket=ticket, author=agent, body=f"reply {n}")

    async def scenario():
        socket = Socket(ticket_path(ticket, after=0), user=requester)
        await socket.open()
        assert await socket.next() == {"type": "reload"}
        await socket.close()

    run(scenario)


def test_a_reconnecting_page_is_sent_recent_events_just_below_its_last_id_again(requester, agent, settings):
    """An event committed late may hold a lower id than one the page shows (PostgreSQL hands ids out
    at insert): the recent ones below the page's last id come again; the page shows each id once."""
    settings.LIVE_REPLAY_OVERLAP_SECONDS = 60
    ticket = new_ticket(requester)
    late = ticket_reply(ticket=ticket, author=agent, body="Committed late")
    shown = ticket_reply(ticket=ticket, author=requester, body="Already on the page")
    shown_event = Event.objects.get(kind=Kind.REPLIED, data__message_id=shown.pk)

    async def scenario():
        socket = Socket(ticket_path(ticket, after=shown_event.pk), user=requester)
        await socket.open()
        # Created, the late reply and the status it opened, the reply already shown.
        resent = [await socket.next() for _ in range(4)]
        assert [m["kind"] for m in resent] == [Kind.CREATED, Kind.REPLIED, Kind.STATUS_CHANGED, Kind.REPLIED]
        assert [m["message"]["id"] for m in resent if "message" in m] == [late.pk, shown.pk]
        await socket.close()

    run(scenario)


# --- checked at every event -------------------------------------------------------------------------


def test_a_deactivated_user_is_closed_at_the_next_event(requester, agent):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)
        await socket.open()
        await db(type(requester).objects.filter(pk=requester.pk).update, is_active=False)
        await db(ticket_reply, ticket=ticket, author=agent, body="You should not read this")
        assert await socket.closed_with() == CLOSE_SIGNED_OUT

    run(scenario)


def test_a_customer_moved_to_another_organization_loses_the_ticket_and_the_list(requester, agent):
    ticket = new_ticket(requester)
    elsewhere = CustomerFactory().membership.organization

    async def scenario():
        page = Socket(ticket_path(ticket), user=requester)
        listing = Socket("/ws/tickets/", user=requester)
        await page.open()
        await listing.open()
        await db(Membership.objects.filter(user=requester).update, organization=elsewhere)
        await db(ticket_reply, ticket=ticket, author=agent, body="Not for the old organization's people")
        assert await page.closed_with() == 4403
        assert await listing.closed_with() == 4403

    run(scenario)


def test_a_signed_out_session_is_closed_at_the_next_event(requester, agent):
    from django.contrib.sessions.models import Session

    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)
        await socket.open()
        await db(lambda: Session.objects.all().delete())
        await db(ticket_reply, ticket=ticket, author=agent, body="You signed out")
        assert await socket.closed_with() == CLOSE_SIGNED_OUT

    run(scenario)


# --- what a browser may send ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("x" * 2000, 1009),
        ("not json", 4400),
        ('{"type": "subscribe", "ticket": 1}', 4400),
        ('{"type": "ping", "after": "yesterday"}', 4400),
    ],
)
def test_client_messages_that_are_too_big_or_not_a_ping_close_the_socket(requester, message, code):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)
        await socket.open()
        await socket.send(message)
        assert await socket.closed_with() == code

    run(scenario)


def test_a_flood_of_client_messages_closes_the_socket(requester):
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)
        await socket.open()
        for _ in range(20):
            await socket.send({"type": "ping"})
        assert await socket.closed_with() == 4429

    run(scenario)


# --- typing -----------------------------------------------------------------------------------------


def test_typing_reaches_the_tickets_other_sockets_and_never_a_note_to_a_customer(
    requester, agent, other_agent
):
    ticket = new_ticket(requester)

    async def scenario():
        customer = Socket(ticket_path(ticket), user=requester)
        writer = Socket(ticket_path(ticket), user=agent)
        colleague = Socket(ticket_path(ticket), user=other_agent)
        for socket in (customer, writer, colleague):
            await socket.open()
        assert (await writer.next())["type"] == "presence"  # the colleague came
        assert (await colleague.next())["type"] == "presence"  # the writer was there
        name = agent.get_full_name()
        await writer.send({"type": "typing", "internal": True})  # a note
        assert await colleague.next() == {"type": "typing", "name": name, "agent": True, "internal": True}
        await writer.send({"type": "typing"})  # a reply
        assert await colleague.next() == {"type": "typing", "name": name, "agent": True, "internal": False}
        assert await customer.next() == {"type": "typing", "name": name, "agent": True}  # the reply only

        await customer.send({"type": "typing", "internal": True})  # customers write no notes
        customer_typing = {
            "type": "typing",
            "name": requester.get_full_name(),
            "agent": False,
            "internal": False,
        }
        assert await colleague.next() == customer_typing
        assert await writer.next() == customer_typing
        await writer.send({"type": "ping"})
        assert await writer.next() == {"type": "pong"}  # nothing of its own typing came back before
        for socket in (customer, writer, colleague):
            await socket.close()

    run(scenario)


def test_typing_on_a_list_socket_closes_it(requester):
    async def scenario():
        socket = Socket("/ws/tickets/", user=requester)
        await socket.open()
        await socket.send({"type": "typing"})
        assert await socket.closed_with() == 4400

    run(scenario)


# --- presence ---------------------------------------------------------------------------------------


def test_agents_on_a_ticket_see_each_other_come_and_go_and_customers_never_do(requester, agent, other_agent):
    ticket = new_ticket(requester)

    async def scenario():
        customer = Socket(ticket_path(ticket), user=requester)
        first = Socket(ticket_path(ticket), user=agent)
        await customer.open()
        await first.open()
        second = Socket(ticket_path(ticket), user=other_agent)
        await second.open()

        here = {"type": "presence", "user": other_agent.pk, "name": other_agent.get_full_name(), "here": True}
        assert await first.next() == here
        assert await second.next() == {**here, "user": agent.pk, "name": agent.get_full_name()}  # answered
        await second.close()
        assert await first.next() == {**here, "here": False}

        await customer.send({"type": "ping"})
        assert await customer.next() == {"type": "pong"}  # no presence came before it
        await first.close()
        await customer.close()

    run(scenario)


def test_a_ping_catches_up_at_most_every_so_often(requester, agent):
    """A heartbeat's catch-up reads the viewer and the events for one socket: 1,000 pages pinging every
    25 s would make it the server's main work. Until PING_CATCH_UP_SECONDS have passed since the socket
    opened, a ping is only answered (what the socket was sent since it opened, it was sent live)."""
    ticket = new_ticket(requester)

    async def scenario():
        socket = Socket(ticket_path(ticket), user=requester)
        await socket.open()
        created = await db(Event.objects.get, ticket=ticket, kind=Kind.CREATED)
        await socket.send({"type": "ping", "after": created.pk - 1})
        assert await socket.next() == {"type": "pong"}
        await socket.close()

    run(scenario)
