"""The embedded channel layer's reader (tickets/live/layers.py) and the announcements it shares with the
Redis path (tickets/live_updates.py)."""

import pytest

from tickets.live.layers import EventTail
from tickets.live_updates import AGENTS_GROUP, Announcement
from tickets.models import Event
from tickets.services import ticket_add_note, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db

Kind = Event.Kind


def new_ticket(requester):
    return ticket_create(requester=requester, subject="Invites bounce", description="All of them.")


def test_the_reader_reads_new_events_in_id_order_once(requester, agent):
    ticket = new_ticket(requester)
    tail = EventTail.from_now(gap_seconds=60)
    ticket_reply(ticket=ticket, author=agent, body="one")
    first = tail.read()
    assert [a.kind for a in first] == [Kind.REPLIED, Kind.STATUS_CHANGED, Kind.SLA_MET]
    assert [a.event_id for a in first] == sorted(a.event_id for a in first)
    assert tail.read() == []


def test_an_id_skipped_by_a_late_commit_is_read_when_it_appears(requester, agent):
    """Ids are handed out at insert and seen at commit: a lower id may become visible after a higher one."""
    ticket = new_ticket(requester)
    tail = EventTail.from_now(gap_seconds=60)
    note = ticket_add_note(ticket=ticket, author=agent, body="early id, late commit")
    late = Event.objects.get(kind=Kind.NOTE_ADDED, data__message_id=note.pk)
    ticket_add_note(ticket=ticket, author=agent, body="later id, committed first")
    row = {f.attname: getattr(late, f.attname) for f in Event._meta.concrete_fields}
    Event.objects.filter(pk=row["id"]).delete()  # not committed yet, as far as the reader can tell

    assert row["id"] not in [a.event_id for a in tail.read()]
    assert row["id"] in tail.gaps

    Event.objects.create(**row)  # now it commits
    assert [a.event_id for a in tail.read()] == [row["id"]]
    assert tail.gaps == {}


def test_a_skipped_id_that_never_appears_is_forgotten(requester, agent):
    ticket = new_ticket(requester)
    tail = EventTail.from_now(gap_seconds=0)
    ticket_add_note(ticket=ticket, author=agent, body="rolled back")
    Event.objects.filter(pk=Event.objects.order_by("-pk").first().pk).delete()
    ticket_add_note(ticket=ticket, author=agent, body="kept")
    tail.read()
    assert tail.gaps  # missed once...
    tail.read()
    assert tail.gaps == {}  # ...and given up on after gap_seconds


def test_who_hears_of_an_event(requester, agent):
    ticket = new_ticket(requester)
    organization = ticket.organization_id
    reply = Event.objects.get(ticket=ticket, kind=Kind.CREATED)
    note = Event.objects.get(
        kind=Kind.NOTE_ADDED, data__message_id=ticket_add_note(ticket=ticket, author=agent, body="x").pk
    )
    public = Announcement.of(reply, organization_id=organization)
    internal = Announcement.of(note, organization_id=organization)
    assert public.groups == [f"ticket.{ticket.pk}", AGENTS_GROUP, f"org.{organization}"]
    assert internal.groups == [f"ticket.{ticket.pk}", AGENTS_GROUP]  # never the organization's lists
    assert Announcement.from_message(public.message()) == public
    assert "body" not in str(internal.message())  # ids and the kind, never content
