"""The services: each change, the audit Event it writes, the workflow rules and the emails sent on commit."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.factories import AgentFactory, CustomerFactory, TicketFactory
from tickets import workflow
from tickets.models import (
    AffectedRole,
    Attachment,
    Candidate,
    Channel,
    Event,
    ImpactScope,
    Message,
    Occurrence,
    Severity,
    Status,
    Ticket,
)
from tickets.notifications import thread_id
from tickets.services import (
    attachment_add,
    ticket_add_note,
    ticket_assign,
    ticket_change_severity,
    ticket_change_status,
    ticket_create,
    ticket_reply,
    ticket_update_details,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 4, 17, 30, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def png(name="screenshot.png"):
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def create(requester, **kwargs):
    kwargs.setdefault("subject", "Candidates cannot join the video interview")
    kwargs.setdefault("description", "The join button spins forever.")
    return ticket_create(requester=requester, **kwargs)


def events(ticket, kind=None):
    rows = Event.objects.filter(ticket=ticket)
    return list(rows.filter(kind=kind) if kind else rows)


def at_status(requester, status):
    """A ticket already in `status` (a fixture: the way there is tested elsewhere)."""
    return TicketFactory(requester=requester, status=status)


# --- ticket_create ---------------------------------------------------------------------------------

FULL_INTAKE = {
    "affected_role": AffectedRole.CANDIDATE,
    "impact_scope": ImpactScope.SEVERAL_USERS,
    "product_area": "Video interviews",
    "feature": "Join button",
    "error_message": "ERR_CONNECTION_RESET",
    "occurrence": Occurrence.RECURRING,
    "started_at": T0 - timedelta(days=1),
    "reason": "",
    "interview_interviewers": ["Grace Hopper", "Alan Turing"],
    "interview_position": "Backend engineer",
    "interview_template_name": "Onsite loop",
    "interview_template_changes": "Added a system design round.",
    "interview_starts_at": T0 + timedelta(days=1),
    "interview_ends_at": T0 + timedelta(days=1, hours=4),
}


def test_create_with_intake_candidates_and_attachments(requester, organization):
    ticket = create(
        requester,
        severity=Severity.S2,
        channel=Channel.PORTAL,
        intake=FULL_INTAKE,
        candidates=[
            {"name": " Ada Lovelace ", "email": "ada@example.com"},
            {"name": "", "email": ""},  # an empty form row is skipped
            {"name": "", "email": "bob@example.com"},
        ],
        attachments=[png(), SimpleUploadedFile("log.txt", b"line 1\nline 2\n")],
        at=T0,
    )

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == Status.NEW
    assert ticket.severity == Severity.S2
    assert ticket.channel == Channel.PORTAL
    assert ticket.requester == requester
    assert ticket.organization == organization
    assert ticket.assignee is None
    assert ticket.created_at == ticket.updated_at == T0
    for name, value in FULL_INTAKE.items():
        assert getattr(ticket, name) == value, name
    assert [(c.name, c.email) for c in ticket.candidates.all()] == [
        ("Ada Lovelace", "ada@example.com"),
        ("", "bob@example.com"),
    ]
    assert sorted(ticket.attachments.values_list("original_name", "content_type")) == [
        ("log.txt", "text/plain"),
        ("screenshot.png", "image/png"),
    ]
    assert all(a.uploaded_by == requester and a.message is None for a in ticket.attachments.all())

    created, *attached = events(ticket)
    assert created.kind == Event.Kind.CREATED
    assert created.actor == requester
    assert created.to_value == "S2"
    assert created.from_value == ""
    assert created.data == {"channel": "portal"}
    assert created.created_at == T0
    assert [e.kind for e in attached] == [Event.Kind.ATTACHMENT_ADDED] * 2
    assert {e.to_value for e in attached} == {"screenshot.png", "log.txt"}
    assert all(e.actor == requester and e.data["internal"] is False for e in attached)


def test_create_defaults(requester):
    ticket = create(requester, subject="  Padded subject  ")
    assert ticket.subject == "Padded subject"
    assert ticket.severity == Severity.S3
    assert ticket.channel == Channel.PORTAL
    assert ticket.candidates.count() == 0
    assert [e.kind for e in events(ticket)] == [Event.Kind.CREATED]


def test_an_organization_admin_can_file_for_a_colleague(requester, org_admin):
    ticket = create(requester, actor=org_admin)
    assert ticket.requester == requester
    assert events(ticket, Event.Kind.CREATED)[0].actor == org_admin


def test_an_agent_can_file_for_a_customer(requester, agent):
    ticket = create(requester, actor=agent, channel=Channel.AGENT, attachments=[png()])
    assert ticket.requester == requester
    assert ticket.channel == Channel.AGENT
    assert events(ticket, Event.Kind.CREATED)[0].actor == agent
    assert ticket.attachments.get().uploaded_by == agent


def test_a_requester_cannot_file_for_a_colleague(requester, organization):
    colleague = CustomerFactory(membership__organization=organization)
    with pytest.raises(PermissionDenied):
        create(colleague, actor=requester)
    assert not Ticket.objects.exists()


def test_an_admin_of_another_organization_cannot_file_for_us(requester, other_organization):
    other_admin = CustomerFactory(membership__organization=other_organization, membership__role="admin")
    with pytest.raises(PermissionDenied):
        create(requester, actor=other_admin)
    assert not Ticket.objects.exists()


def test_the_requester_must_be_an_active_customer(agent, requester):
    with pytest.raises(ValidationError) as exc_info:
        create(agent)
    assert "requester" in exc_info.value.message_dict
    requester.is_active = False
    requester.save()
    with pytest.raises(ValidationError):
        create(requester, actor=AgentFactory())
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"subject": "   "}, "subject"),
        ({"description": ""}, "description"),
        ({"severity": "S9"}, "severity"),
        ({"channel": "fax"}, "channel"),
        ({"intake": {"colour": "blue"}}, "colour"),
        ({"intake": {"affected_role": "ceo"}}, "affected_role"),
        (
            {"intake": {"interview_starts_at": T0, "interview_ends_at": T0 - timedelta(hours=1)}},
            "interview_ends_at",
        ),
        ({"candidates": [{"name": "Ada", "email": "not-an-email"}]}, "candidates[0]"),
        ({"attachments": [SimpleUploadedFile("page.png", b"<html><body>hi</body></html>")]}, "attachments"),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(requester, kwargs, field):
    with pytest.raises(ValidationError) as exc_info:
        create(requester, **kwargs)
    assert field in exc_info.value.message_dict
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()
    assert not Attachment.objects.exists()


# --- ticket_reply ----------------------------------------------------------------------------------


def test_agent_reply_opens_a_new_ticket(requester, agent):
    ticket = create(requester, at=T0)
    later = T0 + timedelta(minutes=20)
    message = ticket_reply(ticket=ticket, author=agent, body="  We are on it.  ", at=later)

    assert message.body == "We are on it."
    assert message.author == agent
    assert message.author_role == Message.AuthorRole.AGENT
    assert message.internal is False
    assert message.channel == Channel.AGENT
    assert message.created_at == later
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.updated_at == later

    replied = events(ticket, Event.Kind.REPLIED)
    assert len(replied) == 1
    assert replied[0].actor == agent
    assert replied[0].data == {"message_id": message.pk}
    (status_event,) = events(ticket, Event.Kind.STATUS_CHANGED)
    assert (status_event.from_value, status_event.to_value) == ("new", "open")
    assert status_event.actor == agent
    assert status_event.data == {"reason": "agent_reply"}


@pytest.mark.parametrize("status", [Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED])
def test_agent_reply_keeps_any_other_status(requester, agent, status):
    ticket = at_status(requester, status)
    ticket_reply(ticket=ticket, author=agent, body="Update: still looking.")
    ticket.refresh_from_db()
    assert ticket.status == status
    assert not events(ticket, Event.Kind.STATUS_CHANGED)


def test_customer_reply(requester):
    ticket = create(requester)
    message = ticket_reply(ticket=ticket, author=requester, body="More detail: it fails in Firefox.")
    assert message.author_role == Message.AuthorRole.CUSTOMER
    assert message.channel == Channel.PORTAL
    assert message.internal is False
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    (replied,) = events(ticket, Event.Kind.REPLIED)
    assert replied.actor == requester


def test_customer_reply_by_email_keeps_its_channel(requester):
    ticket = create(requester)
    message = ticket_reply(ticket=ticket, author=requester, body="Sent from my phone", channel=Channel.EMAIL)
    assert message.channel == Channel.EMAIL


@pytest.mark.parametrize("status", [Status.PENDING, Status.RESOLVED])
def test_customer_reply_reopens_pending_and_resolved_tickets(requester, status):
    ticket = at_status(requester, status)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=T0 if status == Status.RESOLVED else None)
    ticket_reply(ticket=ticket, author=requester, body="Here is what you asked for.", at=T0)

    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    (status_event,) = events(ticket, Event.Kind.STATUS_CHANGED)
    assert (status_event.from_value, status_event.to_value) == (status, "open")
    assert status_event.actor == requester
    assert status_event.data == {"reason": "customer_reply"}


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.ON_HOLD])
def test_customer_reply_keeps_the_other_statuses(requester, status):
    ticket = at_status(requester, status)
    ticket_reply(ticket=ticket, author=requester, body="Any news?")
    ticket.refresh_from_db()
    assert ticket.status == status
    assert not events(ticket, Event.Kind.STATUS_CHANGED)


def test_an_organization_admin_may_reply_on_a_colleagues_ticket(requester, org_admin):
    ticket = create(requester)
    message = ticket_reply(ticket=ticket, author=org_admin, body="Adding my colleague's details.")
    assert message.author == org_admin


@pytest.mark.parametrize("author", ["requester", "agent"])
def test_a_closed_ticket_takes_no_replies(requester, agent, request, author):
    ticket = at_status(requester, Status.CLOSED)
    with pytest.raises(ValidationError) as exc_info:
        ticket_reply(ticket=ticket, author=request.getfixturevalue(author), body="Hello?")
    assert "body" in exc_info.value.message_dict
    assert "closed" in exc_info.value.message_dict["body"][0]
    assert not Message.objects.exists()
    assert not Event.objects.exists()
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


@pytest.mark.parametrize("body", ["", "   \n\t"])
def test_an_empty_reply_is_refused(requester, body):
    ticket = create(requester)
    with pytest.raises(ValidationError) as exc_info:
        ticket_reply(ticket=ticket, author=requester, body=body)
    assert "body" in exc_info.value.message_dict
    assert not Message.objects.exists()


def test_an_outsider_cannot_reply_on_another_organizations_ticket(requester, outsider, other_organization):
    ticket = create(requester)
    other_admin = CustomerFactory(membership__organization=other_organization, membership__role="admin")
    for intruder in (outsider, other_admin):
        with pytest.raises(PermissionDenied):
            ticket_reply(ticket=ticket, author=intruder, body="Let me in")
    assert not Message.objects.exists()


def test_a_requester_cannot_reply_on_a_colleagues_ticket(requester, organization):
    ticket = create(requester)
    colleague = CustomerFactory(membership__organization=organization)
    with pytest.raises(PermissionDenied):
        ticket_reply(ticket=ticket, author=colleague, body="Me too")


def test_an_inactive_agent_cannot_reply(requester, agent):
    ticket = create(requester)
    agent.is_active = False
    agent.save()
    with pytest.raises(PermissionDenied):
        ticket_reply(ticket=ticket, author=agent, body="Hello")


def test_reply_with_attachment(requester):
    ticket = create(requester)
    message = ticket_reply(ticket=ticket, author=requester, body="Screenshot attached", attachments=[png()])
    attachment = message.attachments.get()
    assert attachment.ticket == ticket
    assert attachment.uploaded_by == requester
    (attached,) = events(ticket, Event.Kind.ATTACHMENT_ADDED)
    assert attached.data == {"attachment_id": attachment.pk, "internal": False}


def test_a_reply_with_a_refused_attachment_saves_nothing(requester):
    ticket = create(requester)
    with pytest.raises(ValidationError) as exc_info:
        ticket_reply(
            ticket=ticket,
            author=requester,
            body="See attached",
            attachments=[png(), SimpleUploadedFile("x.exe", b"MZ\x90\x00\x03\x00\x00\x00")],
        )
    assert "attachments" in exc_info.value.message_dict
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()


# --- ticket_add_note -------------------------------------------------------------------------------


def test_agent_adds_an_internal_note_without_changing_the_status(requester, agent):
    ticket = create(requester, at=T0)
    later = T0 + timedelta(hours=1)
    note = ticket_add_note(
        ticket=ticket, author=agent, body="Repro on staging.", attachments=[png()], at=later
    )

    assert note.internal is True
    assert note.author_role == Message.AuthorRole.AGENT
    assert note.channel == Channel.AGENT
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW
    assert ticket.updated_at == later
    (added,) = events(ticket, Event.Kind.NOTE_ADDED)
    assert added.actor == agent
    assert added.data == {"message_id": note.pk}
    (attached,) = events(ticket, Event.Kind.ATTACHMENT_ADDED)
    assert attached.data["internal"] is True
    assert note.attachments.count() == 1


@pytest.mark.parametrize("who", ["requester", "org_admin", "outsider"])
def test_customers_cannot_add_notes(requester, request, who):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        ticket_add_note(ticket=ticket, author=request.getfixturevalue(who), body="psst")
    assert not Message.objects.exists()
    assert not events(ticket, Event.Kind.NOTE_ADDED)


# --- ticket_change_status --------------------------------------------------------------------------

AGENT_ALLOWED = sorted(
    (current, new) for current, targets in workflow.AGENT_TRANSITIONS.items() for new in targets
)
AGENT_REFUSED = sorted(
    (current, new)
    for current in Status.values
    for new in [*Status.values, "bogus"]
    if new not in workflow.AGENT_TRANSITIONS[current]
)
CUSTOMER_ALLOWED = sorted(
    (current, new) for current, targets in workflow.CUSTOMER_TRANSITIONS.items() for new in targets
)
CUSTOMER_REFUSED = sorted(
    (current, new)
    for current in Status.values
    for new in [*Status.values, "bogus"]
    if new not in workflow.CUSTOMER_TRANSITIONS[current]
)


def test_the_workflow_tables_cover_every_status():
    assert set(workflow.AGENT_TRANSITIONS) == set(Status.values)
    assert set(workflow.CUSTOMER_TRANSITIONS) == set(Status.values)
    assert workflow.AGENT_TRANSITIONS[Status.CLOSED] == set()
    assert workflow.CUSTOMER_TRANSITIONS[Status.CLOSED] == set()
    # Customers may only resolve or reopen.
    for targets in workflow.CUSTOMER_TRANSITIONS.values():
        assert targets <= {Status.RESOLVED, Status.OPEN}


def _assert_moved(ticket, current, new, actor):
    ticket.refresh_from_db()
    assert ticket.status == new
    assert ticket.updated_at == T0
    (event,) = events(ticket, Event.Kind.STATUS_CHANGED)
    assert (event.from_value, event.to_value) == (current, new)
    assert event.actor == actor
    assert event.created_at == T0
    assert event.data == {}
    if new == Status.RESOLVED:
        assert ticket.resolved_at == T0
    if new == Status.CLOSED:
        assert ticket.closed_at == T0
    if new not in (Status.RESOLVED, Status.CLOSED):
        assert ticket.resolved_at is None


def _assert_refused(ticket, call):
    before = Ticket.objects.filter(pk=ticket.pk).values().get()
    with pytest.raises(ValidationError) as exc_info:
        call()
    assert list(exc_info.value.message_dict) == ["status"]
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == before
    assert not Event.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(("current", "new"), AGENT_ALLOWED)
def test_agent_allowed_transitions(requester, agent, current, new):
    ticket = at_status(requester, current)
    returned = ticket_change_status(ticket=ticket, actor=agent, status=new, at=T0)
    assert returned.status == new
    _assert_moved(ticket, current, new, agent)


@pytest.mark.parametrize(("current", "new"), AGENT_REFUSED)
def test_agent_refused_transitions(requester, agent, current, new):
    ticket = at_status(requester, current)
    _assert_refused(ticket, lambda: ticket_change_status(ticket=ticket, actor=agent, status=new))


@pytest.mark.parametrize(("current", "new"), CUSTOMER_ALLOWED)
@pytest.mark.parametrize("who", ["requester", "org_admin"])
def test_customer_allowed_transitions(requester, request, who, current, new):
    actor = request.getfixturevalue(who)
    ticket = at_status(requester, current)
    ticket_change_status(ticket=ticket, actor=actor, status=new, at=T0)
    _assert_moved(ticket, current, new, actor)


@pytest.mark.parametrize(("current", "new"), CUSTOMER_REFUSED)
def test_customer_refused_transitions(requester, current, new):
    ticket = at_status(requester, current)
    _assert_refused(ticket, lambda: ticket_change_status(ticket=ticket, actor=requester, status=new))


def test_an_outsider_cannot_change_the_status(requester, outsider):
    ticket = at_status(requester, Status.OPEN)
    with pytest.raises(PermissionDenied):
        ticket_change_status(ticket=ticket, actor=outsider, status=Status.RESOLVED)
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert not Event.objects.exists()


def test_a_resolved_then_closed_ticket_keeps_its_resolution_time(requester, agent):
    ticket = at_status(requester, Status.OPEN)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED, at=T0)
    closed_at = T0 + timedelta(days=7)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.CLOSED, at=closed_at)
    ticket.refresh_from_db()
    assert (ticket.resolved_at, ticket.closed_at) == (T0, closed_at)


def test_a_stale_instance_is_checked_against_the_saved_status(requester, agent):
    """The service locks and re-reads the row: a stale copy in memory does not decide the move."""
    ticket = at_status(requester, Status.OPEN)
    stale = Ticket.objects.get(pk=ticket.pk)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.RESOLVED)
    ticket_change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    with pytest.raises(ValidationError):
        ticket_change_status(ticket=stale, actor=agent, status=Status.PENDING)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


# --- ticket_change_severity ------------------------------------------------------------------------


def test_agent_changes_the_severity(requester, agent):
    ticket = create(requester, severity=Severity.S3)
    returned = ticket_change_severity(ticket=ticket, actor=agent, severity=Severity.S1, at=T0)
    assert returned.severity == Severity.S1
    ticket.refresh_from_db()
    assert ticket.severity == Severity.S1
    assert ticket.updated_at == T0
    (event,) = events(ticket, Event.Kind.SEVERITY_CHANGED)
    assert (event.from_value, event.to_value, event.actor) == ("S3", "S1", agent)


@pytest.mark.parametrize(("severity", "message_part"), [("S3", "already"), ("S9", "not a severity")])
def test_severity_change_refuses_the_same_or_an_unknown_value(requester, agent, severity, message_part):
    ticket = create(requester, severity=Severity.S3)
    with pytest.raises(ValidationError) as exc_info:
        ticket_change_severity(ticket=ticket, actor=agent, severity=severity)
    assert message_part in exc_info.value.message_dict["severity"][0]
    assert Ticket.objects.get(pk=ticket.pk).severity == Severity.S3
    assert not events(ticket, Event.Kind.SEVERITY_CHANGED)


def test_severity_change_refused_on_a_closed_ticket(requester, agent):
    ticket = at_status(requester, Status.CLOSED)
    with pytest.raises(ValidationError) as exc_info:
        ticket_change_severity(ticket=ticket, actor=agent, severity=Severity.S1)
    assert "status" in exc_info.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).severity == Severity.S3


@pytest.mark.parametrize("who", ["requester", "org_admin"])
def test_customers_cannot_change_the_severity(requester, request, who):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        ticket_change_severity(ticket=ticket, actor=request.getfixturevalue(who), severity=Severity.S1)
    assert Ticket.objects.get(pk=ticket.pk).severity == Severity.S3
    assert not events(ticket, Event.Kind.SEVERITY_CHANGED)


# --- ticket_assign ---------------------------------------------------------------------------------


def test_assign_reassign_and_unassign(requester, agent, other_agent):
    ticket = create(requester)
    ticket_assign(ticket=ticket, actor=agent, assignee=agent, at=T0)
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    assert ticket.updated_at == T0

    ticket_assign(ticket=ticket, actor=agent, assignee=other_agent)
    ticket_assign(ticket=ticket, actor=other_agent, assignee=None)
    ticket.refresh_from_db()
    assert ticket.assignee is None

    first, second, third = events(ticket, Event.Kind.ASSIGNED)
    assert (first.actor, first.from_value, first.to_value) == (agent, "", agent.username)
    assert first.data == {"from_id": None, "to_id": agent.pk}
    assert (second.from_value, second.to_value) == (agent.username, other_agent.username)
    assert second.data == {"from_id": agent.pk, "to_id": other_agent.pk}
    assert (third.actor, third.from_value, third.to_value) == (other_agent, other_agent.username, "")
    assert third.data == {"from_id": other_agent.pk, "to_id": None}


def test_assigning_the_current_assignee_again_writes_nothing(requester, agent):
    ticket = create(requester)
    ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    ticket_assign(ticket=create(requester), actor=agent, assignee=None)
    assert Event.objects.filter(kind=Event.Kind.ASSIGNED).count() == 1


def test_tickets_are_assigned_to_active_agents_only(requester, agent, org_admin):
    ticket = create(requester)
    retired = AgentFactory(is_active=False)
    for assignee in (org_admin, retired):
        with pytest.raises(ValidationError) as exc_info:
            ticket_assign(ticket=ticket, actor=agent, assignee=assignee)
        assert "assignee" in exc_info.value.message_dict
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_assignment_refused_on_a_closed_ticket(requester, agent):
    ticket = at_status(requester, Status.CLOSED)
    with pytest.raises(ValidationError):
        ticket_assign(ticket=ticket, actor=agent, assignee=agent)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


@pytest.mark.parametrize("who", ["requester", "org_admin"])
def test_customers_cannot_assign(requester, agent, request, who):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        ticket_assign(ticket=ticket, actor=request.getfixturevalue(who), assignee=agent)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None
    assert not events(ticket, Event.Kind.ASSIGNED)


# --- ticket_update_details -------------------------------------------------------------------------


def test_agent_corrects_details_and_replaces_candidates(requester, agent):
    ticket = create(requester, candidates=[{"name": "Ada", "email": "ada@example.com"}])
    ticket_update_details(
        ticket=ticket,
        actor=agent,
        changes={"subject": "Join button broken in Firefox", "product_area": "Video", "feature": ""},
        candidates=[{"name": "Grace", "email": "grace@example.com"}, {"name": "", "email": "al@example.com"}],
        at=T0,
    )
    ticket.refresh_from_db()
    assert ticket.subject == "Join button broken in Firefox"
    assert ticket.product_area == "Video"
    assert ticket.updated_at == T0
    assert [(c.name, c.email) for c in ticket.candidates.all()] == [
        ("Grace", "grace@example.com"),
        ("", "al@example.com"),
    ]
    assert Candidate.objects.count() == 2
    (event,) = events(ticket, Event.Kind.INTAKE_UPDATED)
    assert event.actor == agent
    # "feature" was already blank: only what really changed is listed.
    assert event.data == {"fields": ["subject", "product_area", "candidates"]}


def test_update_details_with_the_same_values_writes_nothing(requester, agent):
    ticket = create(requester, intake={"product_area": "Video"}, candidates=[{"name": "Ada"}], at=T0)
    ticket_update_details(
        ticket=ticket,
        actor=agent,
        changes={"subject": ticket.subject, "product_area": "Video"},
        candidates=[{"name": "Ada", "email": ""}],
        at=T0 + timedelta(hours=1),
    )
    ticket.refresh_from_db()
    assert ticket.updated_at == T0
    assert not events(ticket, Event.Kind.INTAKE_UPDATED)


def test_update_details_can_clear_the_candidates(requester, agent):
    ticket = create(requester, candidates=[{"name": "Ada"}])
    ticket_update_details(ticket=ticket, actor=agent, changes={}, candidates=[])
    assert ticket.candidates.count() == 0
    (event,) = events(ticket, Event.Kind.INTAKE_UPDATED)
    assert event.data == {"fields": ["candidates"]}


def test_update_details_without_candidates_keeps_them(requester, agent):
    ticket = create(requester, candidates=[{"name": "Ada"}])
    ticket_update_details(ticket=ticket, actor=agent, changes={"feature": "Scheduling"})
    assert [c.name for c in ticket.candidates.all()] == ["Ada"]


@pytest.mark.parametrize(
    ("changes", "candidates", "field"),
    [
        ({"status": "closed"}, None, "status"),
        ({"severity": "S1"}, None, "severity"),
        ({"subject": ""}, None, "subject"),
        ({"interview_starts_at": T0, "interview_ends_at": T0 - timedelta(days=1)}, None, "interview_ends_at"),
        ({}, [{"name": "Ada", "email": "nope"}], "candidates[0]"),
    ],
)
def test_update_details_refuses_bad_changes_and_saves_nothing(requester, agent, changes, candidates, field):
    ticket = create(requester, candidates=[{"name": "Ada"}])
    before = Ticket.objects.filter(pk=ticket.pk).values().get()
    with pytest.raises(ValidationError) as exc_info:
        ticket_update_details(ticket=ticket, actor=agent, changes=changes, candidates=candidates)
    assert field in exc_info.value.message_dict
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == before
    assert [c.name for c in ticket.candidates.all()] == ["Ada"]
    assert not events(ticket, Event.Kind.INTAKE_UPDATED)


@pytest.mark.parametrize("who", ["requester", "org_admin"])
def test_customers_cannot_edit_details(requester, request, who):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        ticket_update_details(ticket=ticket, actor=request.getfixturevalue(who), changes={"subject": "Mine"})


# --- attachment_add --------------------------------------------------------------------------------


def test_attachment_add_checks_who_may_add(requester, outsider, agent):
    ticket = create(requester)
    with pytest.raises(PermissionDenied):
        attachment_add(ticket=ticket, uploaded_by=outsider, upload=png())
    attachment = attachment_add(ticket=ticket, uploaded_by=agent, upload=png(), at=T0)
    assert attachment.uploaded_by == agent
    (event,) = events(ticket, Event.Kind.ATTACHMENT_ADDED)
    assert (event.actor, event.to_value, event.created_at) == (agent, "screenshot.png", T0)


# --- Side effects: notification emails on commit ---------------------------------------------------


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
def mail_settings(settings):
    settings.DEFAULT_FROM_EMAIL = "Acme Helpdesk <helpdesk@mail.example.com>"
    settings.SUPPORT_EMAIL = "support-replies@example.com"
    settings.SITE_URL = "https://help.example.com/"
    return settings


@pytest.fixture
def notifying(eager_celery, mail_settings, mailoutbox):
    return mailoutbox


def _headers(mail):
    return mail.message()


def test_creation_sends_ticket_received_to_the_requester(
    notifying, requester, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = create(requester, subject="Scheduler is down")
    assert len(notifying) == 1
    mail = notifying[0]
    assert mail.subject == f"[{ticket.reference}] Scheduler is down"
    assert mail.to == [requester.email]
    assert mail.from_email == "Acme Helpdesk <helpdesk@mail.example.com>"
    assert mail.reply_to == ["support-replies@example.com"]
    headers = _headers(mail)
    assert headers["Reply-To"] == "support-replies@example.com"
    # The first email starts the thread: its Message-ID is the one later emails reply to.
    assert headers["Message-ID"] == thread_id(ticket) == f"<ticket-{ticket.pk}@mail.example.com>"
    assert headers["In-Reply-To"] is None
    assert f"https://help.example.com/portal/tickets/{ticket.reference}/" in mail.body
    assert ticket.reference in mail.body


def test_an_organization_admin_filing_for_a_colleague_notifies_the_colleague(
    notifying, requester, org_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        create(requester, actor=org_admin)
    assert [mail.to for mail in notifying] == [[requester.email]]


@pytest.mark.parametrize(
    ("from_email", "domain"),
    [
        ("Acme Support <help@support.example.com>", "support.example.com"),
        ('"Support, Acme" <help@support.example.com>', "support.example.com"),
        ("help@support.example.com", "support.example.com"),
        ("no-domain", "helpdesk.localhost"),
        ("Support <help@>", "helpdesk.localhost"),
    ],
)
def test_the_thread_id_is_a_valid_message_id_whatever_the_from_address(
    settings, requester, from_email, domain
):
    settings.DEFAULT_FROM_EMAIL = from_email
    ticket = create(requester)
    assert thread_id(ticket) == f"<ticket-{ticket.pk}@{domain}>"


def test_agent_reply_is_emailed_in_the_thread(
    notifying, requester, agent, django_capture_on_commit_callbacks
):
    ticket = create(requester, subject="Scheduler is down")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, author=agent, body="We restarted the scheduler; please try again.")
    # One email: the move new → open asks nothing of the customer.
    assert len(notifying) == 1
    mail = notifying[0]
    assert mail.subject == f"[{ticket.reference}] Re: Scheduler is down"
    assert mail.to == [requester.email]
    assert mail.reply_to == ["support-replies@example.com"]
    assert "We restarted the scheduler; please try again." in mail.body
    headers = _headers(mail)
    assert headers["In-Reply-To"] == thread_id(ticket)
    assert headers["References"] == thread_id(ticket)
    assert headers["Message-ID"] != thread_id(ticket)


def test_a_change_to_pending_is_emailed_in_the_thread(
    notifying, requester, agent, django_capture_on_commit_callbacks
):
    ticket = at_status(requester, Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_change_status(ticket=ticket, actor=agent, status=Status.PENDING)
    assert len(notifying) == 1
    mail = notifying[0]
    assert mail.subject == f"[{ticket.reference}] Waiting on customer: {ticket.subject}"
    assert mail.reply_to == ["support-replies@example.com"]
    assert "please reply" in mail.body
    headers = _headers(mail)
    assert headers["In-Reply-To"] == thread_id(ticket)
    assert headers["References"] == thread_id(ticket)


@pytest.mark.parametrize(("new", "emails"), [(Status.RESOLVED, 1), (Status.ON_HOLD, 0), (Status.PENDING, 1)])
def test_only_status_changes_that_concern_the_customer_are_emailed(
    notifying, requester, agent, django_capture_on_commit_callbacks, new, emails
):
    ticket = at_status(requester, Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_change_status(ticket=ticket, actor=agent, status=new)
    assert len(notifying) == emails


def task_sends(callbacks) -> list:
    """The on-commit callbacks that hand a task to Celery (the spine's own, for live updates, aside)."""
    return [callback for callback in callbacks if callback.__qualname__.startswith("enqueue_or_log.")]


def test_a_note_sends_no_email(notifying, requester, agent, django_capture_on_commit_callbacks):
    ticket = create(requester)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket_add_note(ticket=ticket, author=agent, body="Internal only: customer is on the old plan.")
    assert task_sends(callbacks) == []
    assert notifying == []


def test_a_customer_reply_sends_no_email(notifying, requester, django_capture_on_commit_callbacks):
    ticket = at_status(requester, Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, author=requester, body="Any news?")
    assert notifying == []


def test_a_requester_without_email_gets_none(notifying, requester, agent, django_capture_on_commit_callbacks):
    requester.email = ""
    requester.save()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = create(requester)
        ticket_reply(ticket=ticket, author=agent, body="Hello")
    assert notifying == []


def test_nothing_is_sent_before_commit(notifying, requester, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        create(requester)
    assert notifying == []
    assert len(task_sends(callbacks)) == 1


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    notifying, requester, agent, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError),
        transaction.atomic(),
    ):
        ticket = create(requester)
        ticket_reply(ticket=ticket, author=agent, body="On it")
        ticket_change_status(ticket=ticket, actor=agent, status=Status.PENDING)
        # Refused (a ticket cannot go back to new): the whole block rolls back.
        ticket_change_status(ticket=ticket, actor=agent, status=Status.NEW)
    assert callbacks == []
    assert notifying == []
    assert not Ticket.objects.exists()
    assert not Message.objects.exists()
    assert not Event.objects.exists()


def test_a_broker_failure_after_commit_is_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    """A broker that is down must not fail a request whose data is already saved."""
    from helpdesk.outbox import enqueue_or_log

    class UnreachableBroker:
        name = "tickets.tasks.example"

        def delay(self, *args):
            raise ConnectionRefusedError("broker down")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_or_log(UnreachableBroker(), 42)
    assert len(callbacks) == 1
    assert "Could not enqueue tickets.tasks.example(42,)" in caplog.text


def test_a_subject_is_kept_on_one_line(requester, agent):
    ticket = ticket_create(requester=requester, subject=" Invites\r\nBcc: x@evil.test ", description="d")
    assert ticket.subject == "Invites Bcc: x@evil.test"
    ticket_update_details(ticket=ticket, actor=agent, changes={"subject": "Two\nlines"})
    ticket.refresh_from_db()
    assert ticket.subject == "Two lines"
