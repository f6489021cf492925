"""Chat (tickets/services/chats.py, tickets/chats.py): a new conversation with its subject and severity, a
line on an open ticket, the honest "We'll answer by" text from the chart and the calendar, agents online,
the Chats queue and Accept, and the transcript mailed once when a chat goes quiet."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from sla.models import Escalation
from tests.factories import CustomerFactory
from tickets import chats, notifications, presence
from tickets.models import Channel, Chat, OutgoingEmail, Severity, Status, Ticket
from tickets.services import (
    chat_accept,
    chat_post,
    chat_start,
    chats_end_quiet,
    ticket_add_note,
    ticket_change_status,
    ticket_create,
    ticket_reply,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def at_la(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


@pytest.fixture(autouse=True)
def _nobody_online(settings):
    """Presence lives in the cache; every test starts with no agent online."""
    from django.core.cache import cache

    cache.delete(presence.KEY)
    yield
    cache.delete(presence.KEY)


@pytest.fixture
def pacific_customer(organization):
    organization.timezone = "America/Los_Angeles"
    organization.save(update_fields=["timezone"])
    return CustomerFactory(first_name="Dana", last_name="Scully", membership__organization=organization)


# --- starting and continuing -------------------------------------------------------------------------


def test_a_new_conversation_is_a_chat_ticket_with_the_customers_subject_and_severity(requester):
    chat = chat_start(
        customer=requester, subject="Scheduler down", severity=Severity.S2, body="Hi, is anyone there?"
    )
    ticket = chat.ticket
    assert (ticket.subject, ticket.severity, ticket.channel, ticket.description) == (
        "Scheduler down",
        "S2",
        Channel.CHAT,
        "Hi, is anyone there?",
    )
    assert chat.opened_ticket and chat.in_progress and chat.customer == requester
    assert chats.chat_in_progress(requester) == chat


def test_an_s1_chat_pages_on_call_as_every_s1_does(requester, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        chat = chat_start(customer=requester, subject="Everything is down", severity=Severity.S1, body="Help")
    # The same escalation an S1 from the portal or email raises: the SLA engine's page, at once.
    assert list(Escalation.objects.filter(ticket=chat.ticket).values_list("level", flat=True)) == ["page"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"subject": "", "severity": "S3", "body": "x"}, "subject"),
        ({"subject": "x" * 201, "severity": "S3", "body": "x"}, "subject"),
        ({"subject": "Down", "severity": "S9", "body": "x"}, "severity"),
        ({"subject": "Down", "severity": "S3", "body": "   "}, "body"),
        ({"subject": "Down", "severity": "S3", "body": "x" * 5001}, "body"),
    ],
)
def test_a_new_conversation_names_the_field_that_is_wrong(requester, fields, named):
    with pytest.raises(ValidationError) as raised:
        chat_start(customer=requester, **fields)
    assert named in raised.value.message_dict
    assert not Ticket.objects.exists()


def test_a_line_on_an_open_ticket_is_a_chat_reply_and_a_chat_in_progress(requester, agent):
    ticket = ticket_create(
        requester=requester, subject="Calendar sync is down", description="Since 9.", severity="S1"
    )
    message = chat_post(customer=requester, ticket=ticket, body="Still down, any news?")
    assert (message.channel, message.author_role, message.ticket_id) == (Channel.CHAT, "customer", ticket.pk)
    chat = Chat.objects.get()
    assert chat.ticket == ticket and not chat.opened_ticket
    chat_post(customer=requester, ticket=ticket, body="Hello?")
    assert Chat.objects.count() == 1  # the same chat
    assert not Ticket.objects.exclude(pk=ticket.pk).exists()  # no "Chat: …" ticket beside the S1


def test_nobody_chats_on_a_ticket_they_may_not_see_or_that_is_done(requester, outsider, agent):
    ticket = ticket_create(requester=requester, subject="Reports", description="Twice.")
    with pytest.raises(PermissionDenied):
        chat_post(customer=outsider, ticket=ticket, body="Hi")
    colleague = CustomerFactory(membership__organization=requester.membership.organization)
    with pytest.raises(PermissionDenied):
        chat_post(customer=colleague, ticket=ticket, body="Hi")
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    with pytest.raises(ValidationError) as raised:
        chat_post(customer=requester, ticket=Ticket.objects.get(pk=ticket.pk), body="Hi")
    assert "ticket" in raised.value.message_dict
    assert not Chat.objects.exists()


def test_the_panel_offers_the_open_tickets_the_customer_may_see(requester, org_admin, outsider, agent):
    own = ticket_create(requester=requester, subject="Mine", description="x")
    done = ticket_create(requester=requester, subject="Done", description="x")
    ticket_change_status(ticket=done, actor=agent, status=Status.RESOLVED)
    ticket_create(requester=outsider, subject="Theirs", description="x")
    assert chats.tickets_to_continue(requester) == [own]
    assert chats.tickets_to_continue(org_admin) == [own]  # an admin sees the organization's
    assert [t.subject for t in chats.tickets_to_continue(outsider)] == ["Theirs"]


# --- "We'll answer by …" -------------------------------------------------------------------------------


def test_after_6_pm_pacific_s2_to_s5_are_answered_the_next_business_day_and_s1_at_once(pacific_customer):
    wednesday_evening = at_la(2026, 12, 2, 19, 0)
    texts = chats.availability(pacific_customer, at=wednesday_evening).by_severity
    assert texts["S1"] == "We'll answer by Wednesday, December 2, 2026 at 7:30 PM (America/Los Angeles)."
    # 4 business hours from Thursday 9 AM; one business day (9 hours) ends Thursday at 6 PM.
    assert texts["S2"] == "We'll answer by Thursday, December 3, 2026 at 1:00 PM (America/Los Angeles)."
    assert texts["S3"] == "We'll answer by Thursday, December 3, 2026 at 6:00 PM (America/Los Angeles)."


def test_at_the_weekend_the_answer_is_due_on_monday_in_the_customers_time_zone(requester):
    # The factory's organization reads New York time; the calendar counts Pacific business hours.
    friday_evening = at_la(2026, 12, 4, 18, 30)
    texts = chats.availability(requester, at=friday_evening).by_severity
    assert texts["S1"] == "We'll answer by Friday, December 4, 2026 at 10:00 PM (America/New York)."
    assert texts["S2"] == "We'll answer by Monday, December 7, 2026 at 4:00 PM (America/New York)."
    saturday = at_la(2026, 12, 5, 11, 0)
    assert chats.availability(requester, at=saturday).by_severity["S2"] == texts["S2"]


def test_a_holiday_is_skipped(pacific_customer):
    # Christmas Day 2026 is a Friday: an S2 at 5 PM on the 24th gets one hour that day, three on Monday.
    texts = chats.availability(pacific_customer, at=at_la(2026, 12, 24, 17, 0)).by_severity
    assert texts["S2"] == "We'll answer by Monday, December 28, 2026 at 12:00 PM (America/Los Angeles)."


def test_on_a_ticket_the_line_is_what_its_clocks_promise(pacific_customer, agent):
    created = at_la(2026, 12, 5, 23, 0)  # a Saturday night
    s1 = ticket_create(requester=pacific_customer, subject="Down", description="x", severity="S1", at=created)
    line = chats.availability(pacific_customer, ticket=s1, at=created + timedelta(minutes=10)).text
    # The ticket's first-response clock, 30 minutes around the clock from its creation (not from now).
    assert line == "We'll answer by Saturday, December 5, 2026 at 11:30 PM (America/Los Angeles)."
    late = chats.availability(pacific_customer, ticket=s1, at=created + timedelta(hours=1)).text
    assert late == "We are late with our answer; the team has been alerted."
    s3 = ticket_create(requester=pacific_customer, subject="Typo", description="x", severity="S3", at=created)
    ticket_reply(ticket=s3, author=agent, body="Noted", at=created + timedelta(minutes=5))
    # Answered, and S3 has no update cadence: the chart's first response for S3, counted from now.
    line = chats.availability(
        pacific_customer, ticket=Ticket.objects.get(pk=s3.pk), at=at_la(2026, 12, 7, 10, 0)
    )
    assert line.text == "We'll answer by Tuesday, December 8, 2026 at 10:00 AM (America/Los Angeles)."


def test_an_agent_with_the_console_open_is_online_until_the_socket_closes_or_stops_renewing(
    requester, agent, settings, monkeypatch
):
    assert not chats.availability(requester).agent_online
    presence.agent_here(user_id=agent.pk, socket="specific.a")
    presence.agent_here(user_id=agent.pk, socket="specific.b")
    online = chats.availability(requester)
    assert online.agent_online and online.text == "An agent is online."
    assert online.by_severity["S2"].startswith("We'll answer by")  # shown if the agent leaves
    presence.agent_gone(socket="specific.a")
    assert chats.has_agent_online()  # the other tab is still open
    # The browser crashed: nothing closes socket b, it only stops renewing.
    later = presence.time.time() + settings.AGENT_PRESENCE_SECONDS + 1
    monkeypatch.setattr(presence.time, "time", lambda: later)
    assert not chats.has_agent_online()


def test_a_deactivated_agent_is_not_online(requester, agent):
    presence.agent_here(user_id=agent.pk, socket="specific.a")
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    assert not chats.has_agent_online()


# --- the Chats queue ------------------------------------------------------------------------------------


def test_the_queue_lists_waiting_chats_unassigned_first_then_the_oldest(requester, agent):
    now = timezone.now()
    first = chat_start(
        customer=requester, subject="First", severity="S3", body="one", at=now - timedelta(minutes=9)
    )
    second = chat_start(
        customer=requester, subject="Second", severity="S3", body="two", at=now - timedelta(minutes=5)
    )
    third = chat_start(
        customer=requester, subject="Third", severity="S2", body="three", at=now - timedelta(minutes=1)
    )
    chat_accept(agent=agent, ticket=first.ticket)
    assert [c.pk for c in chats.waiting_chats()] == [
        second.pk,
        third.pk,
        first.pk,
    ]  # first: the customer wrote last
    ticket_reply(ticket=Ticket.objects.get(pk=first.ticket_id), author=agent, body="Here, looking")
    assert [c.pk for c in chats.waiting_chats()] == [second.pk, third.pk]  # answered: not waiting
    row = chats.queue_row(chats.waiting_chats()[0], now=now)
    assert (row["reference"], row["last_line"], row["last_role"], row["waiting"]) == (
        second.ticket.reference,
        "two",
        "customer",
        "5 min",
    )


def test_accept_assigns_through_the_services_and_opens_the_ticket(client, requester, agent):
    chat = chat_start(customer=requester, subject="Help", severity="S3", body="Anyone?")
    client.force_login(agent)
    page = client.get(reverse("admin:tickets_ticket_chats"))
    assert page.status_code == 200 and "Anyone?" in page.content.decode()
    assert (
        client.get(reverse("admin:tickets_ticket_chats"), {"format": "json"}).json()["rows"][0]["chat"]
        == chat.pk
    )
    assert client.get(reverse("admin:tickets_ticket_chat_accept", args=[chat.pk])).status_code == 405
    response = client.post(reverse("admin:tickets_ticket_chat_accept", args=[chat.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:tickets_ticket_change", args=[chat.ticket_id]) + "#reply"
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.assignee == agent
    assert ticket.events.filter(kind="assigned", actor=agent).exists()  # audited, as every assignment
    assert client.get(reverse("admin:tickets_ticket_chats"), {"format": "json"}).json()["rows"][0]["assignee"]


def test_customers_never_reach_the_queue(client, requester):
    client.force_login(requester)
    response = client.get(reverse("admin:tickets_ticket_chats"), {"format": "json"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_console_index_links_the_chats_queue(admin_client):
    assert reverse("admin:tickets_ticket_chats") in admin_client.get(reverse("admin:index")).content.decode()


# --- a quiet chat's transcript ----------------------------------------------------------------------


def test_a_quiet_chat_mails_its_transcript_once_without_the_notes(
    settings, requester, agent, mailoutbox, django_capture_on_commit_callbacks
):
    settings.CHAT_QUIET_MINUTES = 15
    start = timezone.now() - timedelta(minutes=40)
    chat = chat_start(
        customer=requester, subject="Reports twice", severity="S3", body="Reports show twice", at=start
    )
    ticket = chat.ticket
    ticket_reply(ticket=ticket, author=agent, body="Which report?", at=start + timedelta(minutes=2))
    ticket_add_note(ticket=ticket, author=agent, body="SECRET: customer is on the old plan")
    chat_post(
        customer=requester,
        ticket=Ticket.objects.get(pk=ticket.pk),
        body="Interviews",
        at=start + timedelta(minutes=3),
    )
    # The note was just now, but notes are not part of the chat: it went quiet 37 minutes ago.
    with django_capture_on_commit_callbacks(execute=True):
        assert chats_end_quiet() == 1
        assert chats_end_quiet() == 0  # a second sweep finds nothing
    chat.refresh_from_db()
    assert chat.ended_at is not None
    transcripts = OutgoingEmail.objects.filter(kind=OutgoingEmail.Kind.CHAT_TRANSCRIPT)
    assert transcripts.count() == 1
    notifications.attempt(transcripts.get().pk)  # the outbox process, if the task did not run
    sent = [m for m in mailoutbox if m.subject.startswith(f"[{ticket.reference}] Your chat")]
    assert len(sent) == 1
    body = sent[0].body
    assert sent[0].to == [requester.email]
    assert "Reports show twice" in body and "Which report?" in body and "Interviews" in body
    assert body.index("Reports show twice") < body.index("Which report?") < body.index("Interviews")
    assert "SECRET" not in body
    assert notifications.portal_url(ticket) in body
    assert "(support)" in body  # who answered
    # The transcript stays the ticket's conversation: nothing was moved or removed.
    assert ticket.messages.count() == 3


def test_a_chat_with_a_recent_line_is_not_quiet_and_a_new_line_after_the_end_starts_a_new_chat(
    settings, requester, agent
):
    settings.CHAT_QUIET_MINUTES = 15
    now = timezone.now()
    chat = chat_start(
        customer=requester, subject="Help", severity="S3", body="Hi", at=now - timedelta(minutes=30)
    )
    ticket_reply(ticket=chat.ticket, author=agent, body="Hello!", at=now - timedelta(minutes=5))
    assert chats_end_quiet(at=now) == 0  # the agent's reply 5 minutes ago keeps it going
    assert chats_end_quiet(at=now + timedelta(minutes=11)) == 1
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    chat_post(customer=requester, ticket=ticket, body="One more thing", at=now + timedelta(minutes=20))
    assert Chat.objects.filter(ended_at__isnull=True).count() == 1
    assert Chat.objects.count() == 2
    assert chats_end_quiet(at=now + timedelta(minutes=36)) == 1
    assert (
        OutgoingEmail.objects.filter(kind=OutgoingEmail.Kind.CHAT_TRANSCRIPT).count() == 2
    )  # one per quiet period


def test_the_sweep_is_a_beat_task_every_minute(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Quiet chats")
    assert task.task == "tickets.tasks.end_quiet_chats" and task.enabled and task.interval.every == 60


def test_agent_replies_are_not_mailed_one_by_one_while_the_requester_chats(settings, requester, agent):
    chat = chat_start(customer=requester, subject="Help", severity="S3", body="Hi")
    ticket_reply(ticket=chat.ticket, author=agent, body="Hello, Fox here")
    assert not OutgoingEmail.objects.filter(kind=OutgoingEmail.Kind.AGENT_REPLY).exists()
    settings.CHAT_QUIET_MINUTES = 0
    assert chats_end_quiet(at=timezone.now() + timedelta(seconds=1)) == 1  # the transcript carries it
    ticket_reply(ticket=Ticket.objects.get(pk=chat.ticket_id), author=agent, body="Any news?")
    assert OutgoingEmail.objects.filter(kind=OutgoingEmail.Kind.AGENT_REPLY).count() == 1  # mailed again
