"""The customer portal: sign-in, My tickets, the ticket page, the new-ticket form, chat, public pages."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PASSWORD, CustomerFactory, TicketFactory
from tickets.models import Channel, Message, Status, Ticket
from tickets.services import ticket_add_note, ticket_change_status, ticket_create, ticket_reply

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def customer_client(client, requester):
    client.force_login(requester)
    return client


def listed(response):
    return [ticket.pk for ticket, _ in response.context["rows"]]


def new_ticket_data(**overrides):
    data = {
        "severity": "S2",
        "subject": "Candidates cannot self-schedule",
        "affected_role": "candidate",
        "impact_scope": "several_users",
        "description": "The self-scheduling link shows no slots since this morning.",
        "product_area": "Candidate self-scheduling",
        "feature": "Self-schedule link",
        "error_message": "No availability found",
        "occurrence": "ongoing",
        "started_at": "2026-11-20T08:30",
        "reason": "",
        "interview_position": "Staff Engineer",
        "interview_template_name": "Onsite loop v3",
        "interview_template_changes": "Removed the lunch slot",
        "interview_interviewers": "Alan Turing\nGrace Hopper",
        "interview_starts_at": "2026-11-24T09:00",
        "interview_ends_at": "2026-11-24T17:00",
        "candidates-TOTAL_FORMS": "2",
        "candidates-INITIAL_FORMS": "0",
        "candidates-MIN_NUM_FORMS": "0",
        "candidates-MAX_NUM_FORMS": "50",
        "candidates-0-name": "Ada Lovelace",
        "candidates-0-email": "ada@example.com",
        "candidates-1-name": "Charles Babbage",
        "candidates-1-email": "charles@example.com",
    }
    data.update(overrides)
    return data


def test_sign_in_and_out(client, requester):
    response = client.post(reverse("portal:login"), {"username": requester.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("portal:tickets")
    assert client.get(reverse("portal:tickets")).status_code == 200
    client.post(reverse("portal:logout"))
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_brute_force_is_locked_out(client, requester, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(reverse("portal:login"), {"username": requester.username, "password": "wrong"})
    response = client.post(reverse("portal:login"), {"username": requester.username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content


def test_password_reset_sends_a_link(client, requester, mailoutbox, django_capture_on_commit_callbacks):
    from helpdesk.celery import app

    # The mail goes from the Celery worker once the request's work commits (tests/security/
    # test_password_reset.py): run the task in this process.
    saved, app.conf.task_always_eager = app.conf.task_always_eager, True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("portal:password_reset"), {"email": requester.email})
    finally:
        app.conf.task_always_eager = saved
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and "/portal/password-reset/" in mailoutbox[0].body


def test_agents_are_sent_to_the_console(client, agent):
    client.force_login(agent)
    assert client.get(reverse("portal:tickets"))["Location"] == reverse("admin:index")


def test_my_tickets_shows_own_tickets_only(customer_client, requester, organization):
    mine = TicketFactory(requester=requester, subject="Mine")
    TicketFactory(requester=CustomerFactory(membership__organization=organization), subject="Colleague's")
    TicketFactory(subject="Elsewhere")
    assert listed(customer_client.get(reverse("portal:tickets"))) == [mine.pk]
    # a requester asking for the organization's scope still sees only their own
    assert listed(customer_client.get(reverse("portal:tickets"), {"scope": "organization"})) == [mine.pk]


def test_org_admin_toggles_to_the_organization(client, org_admin, organization):
    colleague = TicketFactory(requester=CustomerFactory(membership__organization=organization))
    other_org = TicketFactory()
    client.force_login(org_admin)
    assert listed(client.get(reverse("portal:tickets"))) == []
    organization_tickets = listed(client.get(reverse("portal:tickets"), {"scope": "organization"}))
    assert colleague.pk in organization_tickets and other_org.pk not in organization_tickets


def test_filters_search_and_pagination(customer_client, requester):
    pending = TicketFactory(requester=requester, status=Status.PENDING, severity="S1", subject="Sync broken")
    TicketFactory.create_batch(25, requester=requester, subject="Question about reports")
    page = customer_client.get(reverse("portal:tickets"), {"status": "pending"})
    assert [t.pk for t, _ in page.context["rows"]] == [pending.pk]
    assert [
        t.pk for t, _ in customer_client.get(reverse("portal:tickets"), {"severity": "S1"}).context["rows"]
    ] == [pending.pk]
    assert [
        t.pk for t, _ in customer_client.get(reverse("portal:tickets"), {"q": "sync"}).context["rows"]
    ] == [pending.pk]
    assert [
        t.pk
        for t, _ in customer_client.get(reverse("portal:tickets"), {"q": pending.reference}).context["rows"]
    ] == [pending.pk]
    first = customer_client.get(reverse("portal:tickets"))
    assert len(first.context["rows"]) == 20 and first.context["page"].paginator.num_pages == 2
    assert len(customer_client.get(reverse("portal:tickets"), {"page": 2}).context["rows"]) == 6


def test_my_tickets_queries_do_not_grow_with_rows(client, organization):
    user = CustomerFactory(membership__organization=organization)
    client.force_login(user)

    def queries_for_page():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("portal:tickets")).status_code == 200
        return len(queries)

    for index in range(10):
        ticket_create(requester=user, subject=f"Ticket {index}", description="x", severity="S2")
    ten = queries_for_page()
    for index in range(10, 20):
        ticket_create(requester=user, subject=f"Ticket {index}", description="x", severity="S3")
    twenty = queries_for_page()
    assert ten == twenty


def test_ticket_page_shows_promise_and_public_conversation_only(customer_client, requester, agent):
    monday_evening = datetime(2026, 11, 23, 19, 0, tzinfo=LA)
    ticket = ticket_create(
        requester=requester,
        subject="Wrong times",
        description="Times are off",
        severity="S2",
        at=monday_evening,
    )
    ticket_add_note(ticket=ticket, author=agent, body="SECRET internal note")
    response = customer_client.get(reverse("portal:ticket", args=[ticket.reference]))
    content = response.content.decode()
    assert "SECRET internal note" not in content
    # S2 after 6 PM PT: 4 business hours from Tuesday 09:00 PT = Tuesday 13:00 PT = 16:00 in New York
    assert "We will respond by Tuesday, November 24, 2026 at 4:00 PM (America/New York)" in content
    assert "Major function broken" in content
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    ticket_reply(ticket=ticket, author=agent, body="We are on it.")
    content = customer_client.get(reverse("portal:ticket", args=[ticket.reference])).content.decode()
    assert "We are on it." in content and "We responded on" in content


def test_other_organizations_ticket_is_404(customer_client, outsider):
    theirs = ticket_create(requester=outsider, subject="Theirs", description="x")
    assert customer_client.get(reverse("portal:ticket", args=[theirs.reference])).status_code == 404
    assert (
        customer_client.post(
            reverse("portal:ticket_reply", args=[theirs.reference]), {"body": "hi"}
        ).status_code
        == 404
    )
    assert (
        customer_client.post(reverse("portal:ticket_status", args=[theirs.reference, "resolve"])).status_code
        == 404
    )
    assert Ticket.objects.get(pk=theirs.pk).status == Status.NEW


def test_new_ticket_with_intake_candidates_and_screenshot(customer_client, requester):
    data = new_ticket_data(attachments=[SimpleUploadedFile("screen.png", PNG, content_type="image/png")])
    response = customer_client.post(reverse("portal:ticket_new"), data)
    ticket = Ticket.objects.get(subject="Candidates cannot self-schedule")
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:ticket", args=[ticket.reference]
    )
    assert (ticket.severity, ticket.channel, ticket.status, ticket.requester) == (
        "S2",
        "portal",
        "new",
        requester,
    )
    assert ticket.interview_interviewers == ["Alan Turing", "Grace Hopper"]
    assert list(ticket.candidates.values_list("email", flat=True)) == [
        "ada@example.com",
        "charles@example.com",
    ]
    # local times are the organization's (America/New_York in the factory)
    assert ticket.interview_starts_at == datetime(2026, 11, 24, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    assert ticket.attachments.get().content_type == "image/png"
    assert ticket.sla_clocks.filter(metric="first_response").exists()


def test_new_ticket_errors_keep_what_was_typed(customer_client):
    data = new_ticket_data(
        subject="",
        **{"candidates-1-email": "not-an-email", "interview_ends_at": "2026-11-23T09:00"},
    )
    response = customer_client.post(reverse("portal:ticket_new"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "subject" in form.errors and "interview_ends_at" in form.errors
    assert response.context["candidates"].errors[1]["email"]
    content = response.content.decode()
    for kept in ("The self-scheduling link shows no slots", "Onsite loop v3", "Ada Lovelace", "not-an-email"):
        assert kept in content
    assert not Ticket.objects.exists()


def test_new_ticket_refuses_disguised_file_on_the_field(customer_client):
    data = new_ticket_data(
        attachments=[SimpleUploadedFile("screen.png", b"<html><script>alert(1)</script></html>")]
    )
    response = customer_client.post(reverse("portal:ticket_new"), data)
    assert response.status_code == 200
    assert "is named like a PNG image but its content is HTML" in str(
        response.context["form"].errors["attachments"]
    )
    assert not Ticket.objects.exists()


def test_feature_request_asks_why(customer_client):
    response = customer_client.post(reverse("portal:ticket_new"), new_ticket_data(severity="S5", reason=""))
    assert "reason" in response.context["form"].errors


def test_reply_resolve_and_reopen(customer_client, requester, agent):
    ticket = ticket_create(requester=requester, subject="Help", description="x")
    ticket_reply(ticket=ticket, author=agent, body="Try again now")
    ticket_change_status(ticket=ticket, actor=agent, status=Status.PENDING)
    url = reverse("portal:ticket_reply", args=[ticket.reference])
    customer_client.post(
        url, {"body": "Still broken", "attachments": [SimpleUploadedFile("log.txt", b"error 42\n")]}
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN  # the customer's reply reopened it
    reply = Message.objects.filter(ticket=ticket, author=requester).get()
    assert reply.attachments.get().original_name == "log.txt"
    customer_client.post(reverse("portal:ticket_status", args=[ticket.reference, "resolve"]))
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    customer_client.post(reverse("portal:ticket_status", args=[ticket.reference, "reopen"]))
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN


def test_empty_reply_is_a_field_error(customer_client, requester):
    ticket = ticket_create(requester=requester, subject="Help", description="x")
    response = customer_client.post(reverse("portal:ticket_reply", args=[ticket.reference]), {"body": "  "})
    assert response.status_code == 400 and "body" in response.context["reply_form"].errors


def test_chat_starts_a_new_conversation_with_a_subject_and_a_severity(customer_client, requester, agent):
    url = reverse("portal:chat")
    state = customer_client.get(url).json()
    assert (state["ticket"], state["messages"], state["open_tickets"]) == (None, [], [])
    assert [s["code"] for s in state["severities"]] == ["S1", "S2", "S3", "S4", "S5"]
    assert state["severities"][0]["definition"].startswith("Service unusable")
    assert set(state["availability"]["by_severity"]) == {"S1", "S2", "S3", "S4", "S5"}
    assert state["availability"]["text"].startswith("We'll answer by")  # nobody has the console open

    started = customer_client.post(
        url, {"body": "Hi, our calendar sync is down", "subject": "Calendar sync down", "severity": "S2"}
    )
    assert started.status_code == 201
    ticket = Ticket.objects.get(channel=Channel.CHAT)
    assert (ticket.subject, ticket.severity) == ("Calendar sync down", "S2")
    state = started.json()
    assert state["ticket"]["reference"] == ticket.reference
    assert state["ticket"]["socket"] == f"/ws/tickets/{ticket.pk}/"
    assert [m["body"] for m in state["messages"]] == ["Hi, our calendar sync is down"]

    customer_client.post(url, {"body": "It started at 9", "ticket": ticket.reference})
    ticket_reply(ticket=ticket, author=agent, body="Looking now")
    ticket_add_note(ticket=ticket, author=agent, body="internal: ask engineering")
    lines = customer_client.get(url).json()["messages"]
    assert [line["body"] for line in lines] == [
        "Hi, our calendar sync is down",
        "It started at 9",
        "Looking now",
    ]
    assert lines[-1]["role"] == "agent" and lines[-1]["author"].endswith("(support)")


def test_chat_continues_on_an_open_ticket_instead_of_opening_another(customer_client, requester):
    s1 = ticket_create(requester=requester, subject="Nothing loads", description="Since 9.", severity="S1")
    state = customer_client.get(reverse("portal:chat")).json()
    assert [(t["reference"], t["subject"], t["status"]) for t in state["open_tickets"]] == [
        (s1.reference, "Nothing loads", "New")
    ]
    response = customer_client.post(
        reverse("portal:chat"), {"body": "Hi, is anyone there?", "ticket": s1.reference}
    )
    assert response.status_code == 201
    assert response.json()["ticket"]["reference"] == s1.reference
    assert Ticket.objects.count() == 1
    assert s1.messages.get().channel == Channel.CHAT


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "x" * 5001, "ticket": "HD-1"}, "body"),
        ({"body": "Hi", "severity": "S3"}, "subject"),
        ({"body": "Hi", "subject": "Down"}, "severity"),
        ({"body": "Hi", "subject": "Down", "severity": "S7"}, "severity"),
        ({"body": "Hi", "ticket": "HD-999999"}, "ticket"),
        ({"body": "Hi", "ticket": "not a reference"}, "ticket"),
    ],
)
def test_chat_answers_bad_input_with_a_400_naming_the_field(customer_client, data, field):
    response = customer_client.post(reverse("portal:chat"), data)
    assert response.status_code == 400
    assert field in response.json()["errors"] and all(response.json()["errors"][field])
    assert not Ticket.objects.exists()


def test_chat_refuses_someone_elses_ticket_and_a_resolved_one(customer_client, requester, outsider, agent):
    theirs = ticket_create(requester=outsider, subject="Theirs", description="x")
    colleague = CustomerFactory(membership__organization=requester.membership.organization)
    colleagues = ticket_create(requester=colleague, subject="A colleague's", description="x")
    done = ticket_create(requester=requester, subject="Done", description="x")
    ticket_change_status(ticket=done, actor=agent, status=Status.RESOLVED)
    for ticket in (theirs, colleagues, done):
        response = customer_client.post(reverse("portal:chat"), {"body": "Hi", "ticket": ticket.reference})
        assert response.status_code == 400 and "ticket" in response.json()["errors"]
    assert not Message.objects.exists()


def test_response_targets_page_reads_the_chart(client, db):
    from sla.models import ResponseTarget

    content = client.get(reverse("support:response_targets")).content.decode()
    assert "30 minutes, 24/7" in content and "4 business hours" in content and "6 PM Pacific" in content
    ResponseTarget.objects.filter(severity="S2").update(first_response_minutes=120)
    from sla.calendars import clear_cache

    clear_cache()
    assert "2 business hours" in client.get(reverse("support:response_targets")).content.decode()


def test_help_page_lists_what_to_include(client, db):
    content = client.get(reverse("support:help"), follow=True).content.decode()
    assert "Interview template name" in content and "Who" in content
