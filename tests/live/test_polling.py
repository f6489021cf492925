"""The polling fallback (tickets/live/polling.py): the sockets' events over HTTP, by the same rules, no
faster than LIVE_POLL_MIN_SECONDS."""

import pytest
from django.core.cache import cache

from tests.factories import CustomerFactory
from tickets.models import Event
from tickets.selectors import last_event_id
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db

Kind = Event.Kind


@pytest.fixture(autouse=True)
def _fresh_poll_counters():
    cache.clear()


def new_ticket(requester, subject="Invites bounce"):
    return ticket_create(requester=requester, subject=subject, description="All of them bounce.")


def test_a_customer_polls_the_public_events_after_an_id(client, requester, agent):
    ticket = new_ticket(requester)
    after = last_event_id(ticket)
    ticket_add_note(ticket=ticket, author=agent, body="Secret: their SSO is broken")
    reply = ticket_reply(ticket=ticket, author=agent, body="We are on it.")
    client.force_login(requester)

    data = client.get(f"/live/tickets/{ticket.pk}/", {"after": after}).json()

    assert [event["kind"] for event in data["events"]] == [Kind.REPLIED, Kind.STATUS_CHANGED]
    assert data["events"][0]["message"]["id"] == reply.pk
    assert "Secret" not in str(data)
    assert data["reload"] is False and data["poll_seconds"] == 3


def test_an_agent_polls_notes_too(client, requester, agent):
    ticket = new_ticket(requester)
    after = last_event_id(ticket)
    note = ticket_add_note(ticket=ticket, author=agent, body="between us")
    client.force_login(agent)

    events = client.get(f"/live/tickets/{ticket.pk}/", {"after": after}).json()["events"]

    assert [(e["kind"], e["message"]["id"], e["message"]["internal"]) for e in events] == [
        (Kind.NOTE_ADDED, note.pk, True)
    ]


def test_polling_faster_than_the_minimum_is_answered_429(client, requester, settings):
    settings.LIVE_POLL_MIN_SECONDS = 30
    ticket = new_ticket(requester)
    client.force_login(requester)
    url = f"/live/tickets/{ticket.pk}/"

    assert client.get(url, {"after": 0}).status_code == 200
    too_soon = client.get(url, {"after": 0})

    assert too_soon.status_code == 429 and too_soon["Retry-After"] == "30"
    assert client.get("/live/tickets/", {"after": 0}).status_code == 200  # another page's own counter


def test_who_may_not_poll(client, requester, outsider):
    ticket = new_ticket(requester)
    url = f"/live/tickets/{ticket.pk}/"
    assert client.get(url, {"after": 0}).status_code == 401
    client.force_login(outsider)
    assert client.get(url, {"after": 0}).status_code == 404
    client.force_login(requester)
    for bad in ("", "-1", "1.5", "²", "9" * 30):
        assert client.get(url, {"after": bad}).status_code == 400, bad
    assert client.get(url).status_code == 400


def test_the_list_of_a_requester_polls_their_own_tickets(client, requester):
    colleague = CustomerFactory(membership__organization=requester.membership.organization)
    after = last_event_id()
    mine = new_ticket(requester, subject="Mine")
    new_ticket(colleague, subject="A colleague's")
    client.force_login(requester)

    events = client.get("/live/tickets/", {"after": after}).json()["events"]

    assert [(e["kind"], e["ticket"]["id"]) for e in events] == [(Kind.CREATED, mine.pk)]
    assert events[0]["ticket"]["promises"]  # the list's Response column


def test_too_much_missed_asks_the_page_to_reload(client, requester, agent, settings):
    settings.LIVE_REPLAY_LIMIT = 1
    ticket = new_ticket(requester)
    ticket_reply(ticket=ticket, author=agent, body="one")
    client.force_login(requester)

    data = client.get(f"/live/tickets/{ticket.pk}/", {"after": 0}).json()

    assert data == {"events": [], "reload": True, "poll_seconds": 3}
