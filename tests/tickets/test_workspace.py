"""The ticket page as an agent's workspace (issue 14): the small forms that change a ticket through the
services, the canned replies that ship and who may write which, agents' time zones, the customer profile,
the labels of the audit trail, and the favicon and "View site"."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin import site
from django.urls import reverse

from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory, TicketFactory
from tickets.admin.ticket_page import dual_time
from tickets.agents import agent_timezone, ensure_leads_group, set_agent_timezone
from tickets.models import AgentProfile, Event, Macro, Status, Ticket
from tickets.services import ticket_add_note, ticket_create, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db

STARTER = importlib.import_module("tickets.migrations.0018_starter_canned_replies")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def lead(db):
    user = AgentFactory()
    user.groups.add(ensure_leads_group())
    return user


def page(ticket):
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def edit(ticket, section):
    return reverse("admin:tickets_ticket_edit", args=[ticket.pk, section])


def new_ticket(requester, **kwargs):
    return ticket_create(
        requester=requester, subject="Invites bounce", description="Since this morning.", **kwargs
    )


# --- the page --------------------------------------------------------------------------------------


def test_the_page_leads_with_the_header_conversation_and_reply_box(agent_client, agent, requester):
    ticket = new_ticket(requester, severity="S2")
    ticket_reply(ticket=ticket, author=agent, body="Looking into it now.")
    content = agent_client.get(page(ticket)).content.decode()
    order = [
        'id="ticket-head"',
        'id="severity"',
        'id="status"',
        'id="assignee"',
        'id="conversation"',
        "Looking into it now.",
        'id="reply"',
        'id="canned-search"',
        'name="attachments"',
        'id="id_then_status"',
        'id="audit-trail"',
        'id="intake-who"',
        'id="intake-interview"',
    ]
    positions = [content.index(marker) for marker in order]
    assert positions == sorted(positions)
    # One small form per change, not the admin's big form.
    assert 'id="ticket_form"' not in content
    assert "First response" in content and "sla-countdown" in content


def test_severity_status_and_assignee_change_through_the_services(agent_client, agent, requester):
    ticket = new_ticket(requester)
    response = agent_client.post(edit(ticket, "severity"), {"severity": "S2"})
    assert response.status_code == 302 and response.url.endswith("#severity")
    agent_client.post(edit(ticket, "assignee"), {"assignee": agent.pk})
    agent_client.post(edit(ticket, "status"), {"status": "pending"})
    ticket.refresh_from_db()
    assert (ticket.severity, ticket.assignee, ticket.status) == ("S2", agent, "pending")
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds[-3:] == [Event.Kind.SEVERITY_CHANGED, Event.Kind.ASSIGNED, Event.Kind.STATUS_CHANGED]
    messages = agent_client.get(page(ticket)).content.decode()
    assert f"{ticket.reference} is now waiting on customer." in messages


def test_a_refused_change_comes_back_with_the_reason_and_changes_nothing(agent_client, requester):
    ticket = TicketFactory(requester=requester, status=Status.CLOSED)
    response = agent_client.post(edit(ticket, "status"), {"status": "open"})
    assert response.status_code == 302 and response.url.endswith("#status")
    content = agent_client.get(page(ticket)).content.decode()
    assert "Nothing was changed" in content
    assert "Select a valid choice" in content  # a closed ticket offers no status to move to
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED
    # Shown once: the next load is clean.
    assert "Nothing was changed" not in agent_client.get(page(ticket)).content.decode()


def test_subject_and_description_are_corrected_in_place(agent_client, requester):
    ticket = new_ticket(requester)
    agent_client.post(edit(ticket, "details"), {"subject": "Invites bounce for Gmail", "description": "x"})
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.description) == ("Invites bounce for Gmail", "x")
    assert ticket.events.filter(kind=Event.Kind.INTAKE_UPDATED).exists()
    response = agent_client.post(edit(ticket, "details"), {"subject": "", "description": "x"})
    assert response.status_code == 302
    content = agent_client.get(page(ticket)).content.decode()
    assert "This field is required." in content and 'id="details" open' in content
    assert Ticket.objects.get(pk=ticket.pk).subject == "Invites bounce for Gmail"


def test_an_intake_group_is_edited_alone_with_times_in_the_customers_zone(agent_client, requester):
    ticket = new_ticket(requester)  # the organization is in America/New_York
    response = agent_client.post(
        edit(ticket, "when"), {"occurrence": "ongoing", "started_at": "2026-12-04T09:40"}
    )
    assert response.status_code == 302 and response.url.endswith("#intake-when")
    ticket.refresh_from_db()
    assert ticket.occurrence == "ongoing"
    assert ticket.started_at == datetime(2026, 12, 4, 14, 40, tzinfo=UTC)  # 09:40 in New York
    assert ticket.product_area == ""  # other groups untouched
    content = agent_client.get(page(ticket)).content.decode()
    # The agent (no profile) reads the console in the business calendar's zone, Los Angeles.
    assert "Dec 4, 09:40 America/New York — 06:40 PST yours" in content


def test_candidates_are_edited_with_the_interview_context(agent_client, requester):
    ticket = new_ticket(requester, candidates=[{"name": "Ada", "email": "ada@example.com"}])
    data = {
        "interview_position": "Staff Engineer",
        "interview_template_name": "",
        "interview_template_changes": "",
        "interview_interviewers": "Alan Turing\nKatherine Johnson",
        "interview_starts_at": "",
        "interview_ends_at": "",
        "candidates-TOTAL_FORMS": "2",
        "candidates-INITIAL_FORMS": "1",
        "candidates-0-name": "Ada",
        "candidates-0-email": "ada@example.com",
        "candidates-0-DELETE": "on",
        "candidates-1-name": "Grace Hopper",
        "candidates-1-email": "grace@example.com",
    }
    assert agent_client.post(edit(ticket, "interview"), data).status_code == 302
    ticket.refresh_from_db()
    assert ticket.interview_position == "Staff Engineer"
    assert ticket.interview_interviewers == ["Alan Turing", "Katherine Johnson"]
    assert list(ticket.candidates.values_list("email", flat=True)) == ["grace@example.com"]


def test_an_interview_range_backwards_is_a_field_error(agent_client, requester):
    ticket = new_ticket(requester)
    data = {
        "interview_position": "",
        "interview_template_name": "",
        "interview_template_changes": "",
        "interview_interviewers": "",
        "interview_starts_at": "2026-12-10T10:00",
        "interview_ends_at": "2026-12-09T10:00",
        "candidates-TOTAL_FORMS": "1",
        "candidates-INITIAL_FORMS": "0",
    }
    agent_client.post(edit(ticket, "interview"), data)
    content = agent_client.get(page(ticket)).content.decode()
    assert "The end of the interview range is before its start." in content
    assert Ticket.objects.get(pk=ticket.pk).interview_starts_at is None


def test_editing_needs_a_post_a_known_section_and_an_agent(client, agent_client, requester):
    ticket = new_ticket(requester)
    assert agent_client.get(edit(ticket, "severity")).status_code == 405
    assert agent_client.post(edit(ticket, "nonsense"), {}).status_code == 404
    client.force_login(requester)
    response = client.post(edit(ticket, "severity"), {"severity": "S1"})
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert Ticket.objects.get(pk=ticket.pk).severity == "S3"


def test_the_audit_trail_speaks_in_labels(agent_client, agent, requester):
    ticket = new_ticket(requester)
    ticket_update(ticket=ticket, actor=agent, status="pending")
    ticket_update(ticket=ticket, actor=agent, severity="S2")
    event = ticket.events.get(kind=Event.Kind.STATUS_CHANGED)
    assert event.change_display == "New → Waiting on customer"
    assert ticket.events.get(kind=Event.Kind.SEVERITY_CHANGED).change_display == "S3 Medium → S2 High"
    content = agent_client.get(page(ticket)).content.decode()
    assert "New → Waiting on customer" in content and "new → pending" not in content
    trail = agent_client.get(reverse("admin:tickets_event_changelist")).content.decode()
    assert "New → Waiting on customer" in trail


def test_the_portal_timeline_speaks_in_labels(client, agent, requester):
    ticket = new_ticket(requester)
    ticket_update(ticket=ticket, actor=agent, status="on_hold")
    client.force_login(requester)
    content = client.get(reverse("portal:ticket", args=[ticket.reference])).content.decode()
    assert "New → <strong>On hold (engineering)</strong>" in content
    assert "on_hold" not in content.split('id="ticket-timeline"')[1].split("</ol>")[0]


# --- canned replies --------------------------------------------------------------------------------


def test_a_fresh_install_ships_canned_replies_from_the_policy():
    names = set(Macro.objects.filter(shared=True).values_list("name", flat=True))
    assert {entry["name"] for entry in STARTER.STARTER} <= names
    details = Macro.objects.get(name="Need more details")
    for question in ("coordinator, interviewers or candidates", "error message", "once"):
        assert question in details.body
    for macro in Macro.objects.filter(name__in=names):
        macro.full_clean()  # every placeholder is one the renderer knows
    assert str(Macro._meta.verbose_name_plural) == "canned replies"


def test_agents_keep_personal_canned_replies_and_leads_write_shared_ones(client, agent, other_agent, lead):
    client.force_login(agent)
    changelist = reverse("admin:tickets_macro_changelist")
    assert client.get(changelist).status_code == 200  # was 403
    response = client.post(
        reverse("admin:tickets_macro_add"),
        {
            "name": "Need more details",
            "body": "Hi {requester_name}, {agent_first_name} here.",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mine = Macro.objects.get(name="Need more details", shared=False)  # the shared one's name, for me
    assert mine.created_by == agent
    shared = Macro.objects.get(name="Need more details", shared=True)
    # An agent reads the shared ones but cannot change or delete them, nor see a colleague's.
    assert client.get(reverse("admin:tickets_macro_change", args=[shared.pk])).status_code == 200
    denied = client.post(reverse("admin:tickets_macro_change", args=[shared.pk]), {"name": "x", "body": "y"})
    assert denied.status_code == 403
    assert (
        client.post(reverse("admin:tickets_macro_delete", args=[shared.pk]), {"post": "yes"}).status_code
        == 403
    )
    client.force_login(other_agent)
    assert client.get(reverse("admin:tickets_macro_change", args=[mine.pk])).status_code == 302  # not found
    # A lead writes for everyone.
    client.force_login(lead)
    response = client.post(
        reverse("admin:tickets_macro_change", args=[shared.pk]),
        {"name": "Need more details", "body": "Hi {requester_name}.", "active": "on", "shared": "on"},
    )
    assert response.status_code == 302
    assert Macro.objects.get(pk=shared.pk).body == "Hi {requester_name}."


def test_the_picker_offers_shared_and_own_canned_replies_only(agent_client, agent, other_agent, requester):
    ticket = new_ticket(requester)
    Macro.objects.create(
        name="My sign-off", body="Cheers, {agent_first_name}", shared=False, created_by=agent
    )
    theirs = Macro.objects.create(name="Their sign-off", body="Bye", shared=False, created_by=other_agent)
    content = agent_client.get(page(ticket)).content.decode()
    assert "My sign-off" in content and "Their sign-off" not in content
    assert f"Cheers, {agent.first_name}" in content
    # And the reply view refuses a colleague's personal reply.
    url = reverse("admin:tickets_ticket_reply", args=[ticket.pk])
    agent_client.post(url, {"body": "", "kind": "reply", "macro": theirs.pk})
    assert not ticket.messages.exists()


# --- time zones ------------------------------------------------------------------------------------


def test_an_agent_reads_the_console_in_their_zone(agent_client, agent, requester):
    ticket = new_ticket(requester)
    ticket_add_note(ticket=ticket, author=agent, body="Noted.")
    note_time = ticket.messages.get().created_at
    assert agent_timezone(agent) == ZoneInfo("America/Los_Angeles")  # the business calendar's
    response = agent_client.post(
        reverse("admin:tickets_agent_timezone"), {"timezone": "Europe/Berlin", "next": page(ticket)}
    )
    assert response.status_code == 302 and response.url == page(ticket)
    assert AgentProfile.objects.get(user=agent).timezone == "Europe/Berlin"
    content = agent_client.get(page(ticket)).content.decode()
    local = note_time.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local:%b} {local.day}, {local:%H:%M} CET" in content
    refused = agent_client.post(reverse("admin:tickets_agent_timezone"), {"timezone": "Mars/Olympus"})
    assert refused.status_code == 200 and AgentProfile.objects.get(user=agent).timezone == "Europe/Berlin"


def test_an_offsite_next_is_not_followed(agent_client):
    response = agent_client.post(
        reverse("admin:tickets_agent_timezone"), {"timezone": "Asia/Tokyo", "next": "https://evil.example/"}
    )
    assert response.url == reverse("admin:tickets_agent_timezone")


def test_dual_time_shows_the_customers_zone_and_the_agents():
    from django.utils import timezone

    instant = datetime(2026, 12, 4, 14, 40, tzinfo=UTC)
    with timezone.override(ZoneInfo("America/Los_Angeles")):
        assert dual_time(instant, ZoneInfo("America/New_York")) == (
            "Dec 4, 09:40 America/New York — 06:40 PST yours"
        )
        assert dual_time(instant, ZoneInfo("America/Los_Angeles")) == "Dec 4, 06:40 America/Los Angeles"
    evening = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert dual_time(evening, ZoneInfo("America/New_York")) == (
            "Dec 4, 15:00 America/New York — Dec 5, 05:00 JST yours"
        )
    assert dual_time(None, ZoneInfo("UTC")) == "—"


def test_set_agent_timezone_validates(agent):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        set_agent_timezone(agent, "Nowhere/Special")
    set_agent_timezone(agent, "Asia/Kolkata")
    assert agent_timezone(agent) == ZoneInfo("Asia/Kolkata")


# --- the customer profile ----------------------------------------------------------------------------


def test_the_requester_link_opens_a_customer_profile(agent_client, agent, requester):
    ticket = new_ticket(requester)
    closed = TicketFactory(requester=requester, status=Status.CLOSED, subject="An old question")
    other = TicketFactory(requester=CustomerFactory(), subject="Someone else's")
    url = reverse("admin:tickets_customer", args=[requester.pk])
    assert url in agent_client.get(page(ticket)).content.decode()
    response = agent_client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert requester.email in content and str(requester.membership.organization) in content
    opened, recent = content.split('id="open-tickets"')[1].split('id="recent-tickets"')
    assert ticket.reference in opened and closed.reference in recent and "An old question" in recent
    assert other.reference not in content


def test_the_profile_is_staff_only_and_for_customers_only(client, agent_client, agent, requester):
    url = reverse("admin:tickets_customer", args=[requester.pk])
    assert agent_client.get(reverse("admin:tickets_customer", args=[agent.pk])).status_code == 404
    client.force_login(requester)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_profile_queries_do_not_grow_with_tickets(agent_client, requester):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:tickets_customer", args=[requester.pk])
    last = []

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(url).status_code == 200
        last[:] = queries.captured_queries
        return len(queries)

    new_ticket(requester)
    count()  # the first page of a session also reads the agent's time zone into it
    few = count()
    for _ in range(6):
        new_ticket(requester)
    TicketFactory.create_batch(4, requester=requester, status=Status.CLOSED)
    assert count() == few, [q["sql"][:120] for q in last]


# --- around the console ----------------------------------------------------------------------------


def test_view_site_leads_agents_to_the_public_help_center(agent_client):
    assert site.site_url == "/support/articles/"
    assert agent_client.get(site.site_url).status_code == 200


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url.endswith("favicon.ico")


def test_badges_meet_contrast():
    from tickets.admin.tickets import SEVERITY_COLOURS

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for severity, colour in SEVERITY_COLOURS.items():
        assert (1.05) / (luminance(colour) + 0.05) >= 4.5, severity  # white text on the badge


def test_reply_files_are_checked_in_the_browser_against_the_servers_limits(agent_client, requester):
    ticket = new_ticket(requester)
    content = agent_client.get(page(ticket)).content.decode()
    assert 'data-accept-extensions=".csv .eml .gif' in content and 'data-max-bytes="' in content


def test_organization_zone_is_the_customers(agent_client, requester):
    org = OrganizationFactory(timezone="Asia/Tokyo")
    customer = CustomerFactory(membership__organization=org)
    ticket = new_ticket(customer)
    content = agent_client.get(page(ticket)).content.decode()
    assert "Asia/Tokyo" in content


def test_a_zone_the_system_no_longer_knows_is_read_again(agent_client, agent):
    session = agent_client.session
    session["agent_timezone"] = "Atlantis/Capital"
    session.save()
    set_agent_timezone(agent, "Europe/Berlin")
    response = agent_client.get(reverse("admin:tickets_agent_timezone"))
    assert response.status_code == 200 and "CET" in response.content.decode()
    assert agent_client.session["agent_timezone"] == "Europe/Berlin"
