"""Email out: every notification is plain text, has a Message-ID of its own, replies to the ticket's root
("ticket received") by In-Reply-To/References, carries [HD-n] and Reply-To the support address; the
"ticket received" email promises the first response in the organization's time zone; notes never leave.
Sent by the Celery tasks, run eagerly here."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from zoneinfo import ZoneInfo

import pytest

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory
from tickets import notifications
from tickets.channels.email_in import PROCESSED, process
from tickets.models import Channel, Status
from tickets.notifications import thread_id
from tickets.services import ticket_add_note, ticket_change_status, ticket_create, ticket_reply

PACIFIC = ZoneInfo("America/Los_Angeles")
#: A Monday, after the 18:00 close of the Pacific business day (and before the March DST change).
MONDAY_EVENING = datetime(2026, 3, 2, 19, 0, tzinfo=PACIFIC)


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process, as soon as they are enqueued, and let their errors surface."""
    from helpdesk.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def outbox(db, eager_celery, settings, mailoutbox):
    """The customer's mailbox: notifications sent once each service's transaction commits.

    After `db`: setting up the test transaction gives Django a new outbox list."""
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <helpdesk@help.example.com>"
    settings.SUPPORT_EMAIL = "support@help.example.com"
    settings.SITE_URL = "https://help.example.com/"
    return mailoutbox


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def customer(db):
    organization = OrganizationFactory(name="Acme Talent", timezone="America/New_York")
    return CustomerFactory(email="jane.doe@acme.example", membership__organization=organization)


def create(requester, **kwargs):
    return ticket_create(
        requester=requester,
        subject=kwargs.pop("subject", "Interview invites are not being sent"),
        description="Invites do not go out.",
        **kwargs,
    )


def headers(mail) -> MimeMessage:
    return mail.message()


def test_ticket_received_is_the_root_of_the_thread(outbox, committing, customer):
    with committing():
        ticket = create(customer)

    (mail,) = outbox
    assert mail.subject == f"[{ticket.reference}] Interview invites are not being sent"
    assert mail.to == ["jane.doe@acme.example"]
    assert mail.reply_to == ["support@help.example.com"]
    message = headers(mail)
    assert message["Message-ID"] == thread_id(ticket) == f"<ticket-{ticket.pk}@help.example.com>"
    assert message["In-Reply-To"] is None and message["References"] is None
    assert message["Reply-To"] == "support@help.example.com"
    # Composed by the helpdesk itself: the customer's out-of-office reply is not wanted.
    assert message["Auto-Submitted"] == "auto-generated"
    # Plain text only.
    assert message.get_content_type() == "text/plain"
    assert getattr(mail, "alternatives", []) == []


@pytest.mark.parametrize(
    ("timezone", "promise"),
    [
        # Due Tuesday 13:00 Pacific: 4 business hours counted from Tuesday's 09:00 opening.
        ("America/New_York", "We will respond by Tuesday, March 3, 2026 at 4:00 PM (America/New York)."),
        (
            "America/Los_Angeles",
            "We will respond by Tuesday, March 3, 2026 at 1:00 PM (America/Los Angeles).",
        ),
        ("Europe/Berlin", "We will respond by Tuesday, March 3, 2026 at 10:00 PM (Europe/Berlin)."),
        ("Asia/Kolkata", "We will respond by Wednesday, March 4, 2026 at 2:30 AM (Asia/Kolkata)."),
    ],
)
def test_ticket_received_promises_the_first_response_in_the_organizations_time_zone(
    outbox, committing, timezone, promise
):
    organization = OrganizationFactory(timezone=timezone)
    requester = CustomerFactory(membership__organization=organization)
    with committing():
        ticket = create(requester, severity="S2", at=MONDAY_EVENING)

    due = ticket.sla_clocks.get(metric="first_response").due_at
    assert due == datetime(2026, 3, 3, 13, 0, tzinfo=PACIFIC)
    (mail,) = outbox
    assert promise in mail.body
    assert "on-call" not in mail.body


def test_an_s1_ticket_received_says_on_call_is_paged(outbox, committing, customer):
    with committing():
        ticket = create(customer, severity="S1", at=MONDAY_EVENING)

    (mail,) = [m for m in outbox if m.to == [customer.email]]
    assert "S1 tickets page our on-call engineer immediately." in mail.body
    # 30 minutes, around the clock: 19:30 Pacific is 22:30 in New York.
    assert "We will respond by Monday, March 2, 2026 at 10:30 PM (America/New York)." in mail.body
    assert ticket.severity == "S1"


def test_an_emailed_ticket_received_explains_the_default_severity(outbox, committing, customer):
    with committing():
        create(customer, channel=Channel.EMAIL)

    (mail,) = outbox
    assert "Emailed requests start at S3 Medium; an agent adjusts the severity if needed." in mail.body


def test_no_promise_once_the_first_response_is_met(outbox, committing, customer):
    agent = AgentFactory()
    ticket = create(customer)
    ticket_reply(ticket=ticket, author=agent, body="Looking into it.")

    notifications.send_ticket_received(ticket)

    (mail,) = outbox
    assert "We will respond by" not in mail.body


def test_an_agent_reply_has_its_own_message_id_and_replies_to_the_root(outbox, committing, customer):
    agent = AgentFactory()
    ticket = create(customer, subject="Scheduler is down")
    with committing():
        reply = ticket_reply(
            ticket=ticket, author=agent, body="We restarted the scheduler; please try again."
        )

    (mail,) = outbox
    assert mail.subject == f"[{ticket.reference}] Re: Scheduler is down"
    assert mail.reply_to == ["support@help.example.com"]
    assert "We restarted the scheduler; please try again." in mail.body
    message = headers(mail)
    assert message["Message-ID"] == f"<ticket-{ticket.pk}.reply.{reply.pk}@help.example.com>"
    assert message["In-Reply-To"] == message["References"] == thread_id(ticket)
    # Written by a person: no Auto-Submitted header.
    assert message["Auto-Submitted"] is None


def test_status_changes_have_unique_message_ids_in_the_thread(outbox, committing, customer):
    agent = AgentFactory()
    with committing():
        ticket = create(customer)
        ticket_reply(ticket=ticket, author=agent, body="Can you send a screenshot?")
        ticket_change_status(ticket=ticket, actor=agent, status=Status.PENDING)
        ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
        ticket_change_status(ticket=ticket, actor=agent, status=Status.CLOSED)

    assert [mail.subject.split("] ")[1] for mail in outbox] == [
        "Interview invites are not being sent",
        "Re: Interview invites are not being sent",
        "Waiting on customer: Interview invites are not being sent",
        "Resolved: Interview invites are not being sent",
        "Closed: Interview invites are not being sent",
    ]
    ids = [headers(mail)["Message-ID"] for mail in outbox]
    assert len(set(ids)) == len(ids)
    for mail, status in zip(outbox[2:], ("pending", "resolved", "closed"), strict=True):
        message = headers(mail)
        assert re.fullmatch(
            rf"<ticket-{ticket.pk}\.status-{status}\.[^@<>\s]+@help\.example\.com>", message["Message-ID"]
        )
        assert message["In-Reply-To"] == message["References"] == thread_id(ticket)
        assert message["Auto-Submitted"] == "auto-generated"
        assert mail.subject.startswith(f"[{ticket.reference}] ")
        assert mail.reply_to == ["support@help.example.com"]
    assert "if you write back, we open a follow-up ticket" in outbox[-1].body


def test_internal_notes_are_never_emailed(outbox, committing, customer):
    agent = AgentFactory()
    ticket = create(customer)
    with committing():
        note = ticket_add_note(ticket=ticket, author=agent, body="Customer is on the legacy plan.")

    notifications.send_agent_reply(note)  # even when asked directly

    assert outbox == []


def test_the_customers_answer_to_a_notification_comes_back_onto_the_ticket(outbox, committing, customer):
    """The round trip: reply to the agent's email as a mail client does (Re: subject, In-Reply-To)."""
    agent = AgentFactory()
    ticket = create(customer)
    with committing():
        ticket_reply(ticket=ticket, author=agent, body="Which interview slot?")
    (notification,) = outbox
    sent = headers(notification)
    answer = MimeMessage()
    answer["From"] = "Jane Doe <jane.doe@acme.example>"
    answer["To"] = sent["Reply-To"]
    answer["Subject"] = f"Re: {sent['Subject']}"
    answer["Message-ID"] = "<answer-1@mail.acme.example>"
    answer["In-Reply-To"] = sent["Message-ID"]
    answer["References"] = f"{sent['References']} {sent['Message-ID']}"
    answer.set_content(
        f"The 3pm slot.\n\nOn Tue, Acme Helpdesk wrote:\n> {notification.body.splitlines()[0]}\n"
    )

    result = process(answer.as_bytes())

    assert (result.status, result.ticket) == (PROCESSED, ticket)
    assert ticket.messages.get(author=customer).body == "The 3pm slot."
