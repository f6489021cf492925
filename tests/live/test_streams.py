"""What an event costs the database (tickets/live/streams.py, rendering.py, delivery.py): one socket's
long way (the viewer read afresh from the session, the check, the event and its payload), and the way the
sockets of a process are served, which does not grow with their number. Pinned so that a change shows up
here; bench/realtime.py measures both with 1,000 sockets."""

import json

import pytest
from django.test import Client

from tickets.live.delivery import Deliveries, Viewer
from tickets.live.streams import TicketListStream, TicketStream, signed_in_viewer
from tickets.models import Event
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db


def deliver(stream, session_key: str, event_id: int) -> dict | None:
    """What a consumer does for one announced event (consumers.LiveConsumer._render)."""
    viewer = signed_in_viewer(session_key)
    assert stream.allows(viewer) and stream.groups(viewer)
    event = stream.event(viewer, event_id)
    return stream.render(event, viewer=viewer) if event is not None else None


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


# Session, user, [ticket (the check)], membership, event with its ticket, organization (time zone),
# clocks (the promise), [message with its author, its attachments].
@pytest.mark.parametrize(
    ("stream_kind", "customer_queries", "agent_queries"),
    [("ticket", 9, 6), ("list", 6, 3)],
)
def test_queries_per_event_and_socket(
    requester, agent, django_assert_num_queries, stream_kind, customer_queries, agent_queries
):
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    reply = ticket_reply(ticket=ticket, author=agent, body="On it")
    event_id = Event.objects.get(kind=Event.Kind.REPLIED, data__message_id=reply.pk).pk
    for user, expected in ((requester, customer_queries), (agent, agent_queries)):
        stream = TicketStream(ticket.pk) if stream_kind == "ticket" else TicketListStream()
        key = session_of(user)
        with django_assert_num_queries(expected):
            assert deliver(stream, key, event_id)["id"] == event_id


class Follower:
    """What `delivery.Deliveries` reads of a socket (a `LiveConsumer`): its stream and admitted viewer."""

    def __init__(self, stream, user) -> None:
        self.stream = stream
        self.viewer = Viewer.of(user, session_of(user))

    def recheck(self):
        raise AssertionError("no viewer changed")


@pytest.mark.parametrize("sockets_per_viewer", [1, 10])
def test_an_event_costs_the_same_queries_for_one_socket_or_many(
    requester, org_admin, agent, other_agent, django_assert_num_queries, sockets_per_viewer
):
    """The viewers checked with two queries for all, the event read once, each payload rendered once per
    audience: the count does not grow with the sockets."""
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    reply = ticket_reply(ticket=ticket, author=agent, body="On it")
    event_id = Event.objects.get(kind=Event.Kind.REPLIED, data__message_id=reply.pk).pk
    followers = [
        Follower(stream, user)
        for _ in range(sockets_per_viewer)
        for user in (requester, org_admin, agent, other_agent)
        for stream in (TicketStream(ticket.pk), TicketListStream())
    ]
    # Viewers (2), the event with its ticket and organization (1), then per audience and stream: the
    # customers' ticket page (clocks, message, attachments), the agents' (message, attachments), the
    # customers' list (clocks); the agents' list needs nothing more.
    with django_assert_num_queries(9):
        outcomes = Deliveries().decide(event_id, followers)
    texts = [json.loads(outcome.text) for outcome in outcomes]
    assert {text["id"] for text in texts} == {event_id}
    assert all(outcome.close is None for outcome in outcomes)


def test_a_note_is_sent_to_agents_only(requester, org_admin, agent):
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    note = ticket_add_note(ticket=ticket, author=agent, body="Their SSO is misconfigured")
    event_id = Event.objects.get(kind=Event.Kind.NOTE_ADDED, data__message_id=note.pk).pk
    followers = [
        Follower(stream, user)
        for user in (requester, org_admin, agent)
        for stream in (TicketStream(ticket.pk), TicketListStream())
    ]
    outcomes = Deliveries().decide(event_id, followers)
    sent = [(f.viewer.agent, json.loads(o.text)) for f, o in zip(followers, outcomes, strict=True) if o.text]
    assert [agent_ for agent_, _ in sent] == [True, True]
    assert sent[0][1]["message"]["body"] == "Their SSO is misconfigured"
