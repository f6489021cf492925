"""What one socket costs the database per event (tickets/live/streams.py, rendering.py): the viewer read
afresh from the session, the check, the event and its payload. Pinned so that a change shows up here;
the 1,000-socket benchmark (issue 13, later) starts from these."""

import pytest
from django.test import Client

from tickets.live.streams import TicketListStream, TicketStream, signed_in_viewer
from tickets.models import Event
from tickets.services import ticket_create, ticket_reply

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
