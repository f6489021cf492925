"""The ticket domain's models: database constraints, references, visibility and queue order."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import pytz
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from tests.factories import (
    AgentFactory,
    CandidateFactory,
    CustomerFactory,
    OrganizationFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import (
    OPEN_STATUSES,
    TIMEZONE_CHOICES,
    Candidate,
    Channel,
    Membership,
    Message,
    Severity,
    Status,
    Ticket,
    parse_reference,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


# --- Database check constraints --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad_value"),
    [
        ("severity", "S9"),
        ("severity", "S0"),
        ("severity", ""),
        ("status", "archived"),
        ("status", ""),
        ("status", "NEW"),
        ("channel", "fax"),
        ("channel", ""),
    ],
)
def test_database_rejects_values_outside_the_choices(field, bad_value):
    ticket = TicketFactory()
    before = getattr(ticket, field)
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(**{field: bad_value})
    ticket.refresh_from_db()
    assert getattr(ticket, field) == before


@pytest.mark.parametrize("field", ["severity", "status", "channel"])
def test_database_accepts_every_choice(field):
    ticket = TicketFactory()
    for value in {"severity": Severity.values, "status": Status.values, "channel": Channel.values}[field]:
        Ticket.objects.filter(pk=ticket.pk).update(**{field: value})
        ticket.refresh_from_db()
        assert getattr(ticket, field) == value


def test_database_rejects_an_interview_range_that_ends_before_it_starts():
    ticket = TicketFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Ticket.objects.filter(pk=ticket.pk).update(
            interview_starts_at=T0, interview_ends_at=T0 - timedelta(minutes=1)
        )
    ticket.refresh_from_db()
    assert ticket.interview_starts_at is None
    assert ticket.interview_ends_at is None


def test_database_rejects_a_new_ticket_with_a_reversed_interview_range():
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(interview_starts_at=T0, interview_ends_at=T0 - timedelta(days=1))
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [
        (T0, T0),  # a range of one instant
        (T0, T0 + timedelta(days=2)),
        (T0, None),  # open-ended either way
        (None, T0),
        (None, None),
    ],
)
def test_database_accepts_ordered_or_open_interview_ranges(starts_at, ends_at):
    ticket = TicketFactory(interview_starts_at=starts_at, interview_ends_at=ends_at)
    ticket.refresh_from_db()
    assert (ticket.interview_starts_at, ticket.interview_ends_at) == (starts_at, ends_at)


def test_model_clean_reports_a_reversed_interview_range_on_the_end_field():
    from django.core.exceptions import ValidationError

    ticket = Ticket(interview_starts_at=T0, interview_ends_at=T0 - timedelta(hours=1))
    with pytest.raises(ValidationError) as exc_info:
        ticket.clean()
    assert "interview_ends_at" in exc_info.value.message_dict


def test_database_rejects_a_candidate_with_neither_name_nor_email():
    ticket = TicketFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Candidate.objects.create(ticket=ticket, name="", email="")
    assert not Candidate.objects.exists()


@pytest.mark.parametrize(
    ("name", "email"),
    [("Ada Lovelace", ""), ("", "ada@example.com"), ("Ada Lovelace", "ada@example.com")],
)
def test_database_accepts_a_candidate_with_a_name_or_an_email(name, email):
    candidate = CandidateFactory(name=name, email=email)
    assert Candidate.objects.get(pk=candidate.pk).ticket_id == candidate.ticket_id


def test_candidate_str_shows_what_is_known():
    assert str(Candidate(name="Ada", email="ada@example.com")) == "Ada <ada@example.com>"
    assert str(Candidate(name="Ada")) == "Ada"
    assert str(Candidate(email="ada@example.com")) == "ada@example.com"


@pytest.mark.parametrize("role", [Message.AuthorRole.CUSTOMER, Message.AuthorRole.SYSTEM])
def test_database_rejects_an_internal_note_not_written_by_an_agent(role):
    ticket = TicketFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            ticket=ticket,
            author=ticket.requester,
            author_role=role,
            body="psst",
            internal=True,
            created_at=T0,
        )
    assert not Message.objects.exists()


def test_database_accepts_notes_by_agents_and_public_replies_by_anyone():
    ticket = TicketFactory()
    agent = AgentFactory()
    Message.objects.create(
        ticket=ticket, author=agent, author_role="agent", body="note", internal=True, created_at=T0
    )
    for role in Message.AuthorRole.values:
        Message.objects.create(
            ticket=ticket, author=None, author_role=role, body="reply", internal=False, created_at=T0
        )
    assert ticket.messages.count() == 1 + len(Message.AuthorRole.values)


def test_database_rejects_an_unknown_membership_role():
    customer = CustomerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(user=customer).update(role="owner")
    assert Membership.objects.get(user=customer).role == Membership.Role.REQUESTER


# --- References ----------------------------------------------------------------------------------


def test_reference_is_hd_and_the_primary_key():
    ticket = TicketFactory()
    assert ticket.reference == f"HD-{ticket.pk}"
    assert str(ticket) == f"HD-{ticket.pk} {ticket.subject}"


def test_an_unsaved_ticket_has_no_reference():
    assert Ticket().reference == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HD-12", 12),
        ("hd-12", 12),
        ("Hd-12", 12),
        ("12", 12),
        ("HD12", 12),
        ("  HD-12  ", 12),
        ("HD-1042", 1042),
        ("HD-000123", 123),
        ("9" * 18, int("9" * 18)),
    ],
)
def test_parse_reference_reads_the_ticket_id(text, expected):
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "HD-",
        "HD",
        "junk",
        "HD-12x",
        "HD-12-13",
        "XX-12",
        "HD--12",
        "-12",
        "12.5",
        "HD 12",
        "1" * 19,  # longer than any id we hand out
        "HD-12; DROP TABLE tickets_ticket",
    ],
)
def test_parse_reference_refuses_junk(text):
    assert parse_reference(text) is None


def test_by_reference_finds_the_ticket_and_nothing_for_junk():
    ticket = TicketFactory()
    TicketFactory()
    assert list(Ticket.objects.by_reference(ticket.reference)) == [ticket]
    assert list(Ticket.objects.by_reference(ticket.reference.lower())) == [ticket]
    assert list(Ticket.objects.by_reference(str(ticket.pk))) == [ticket]
    assert not Ticket.objects.by_reference("junk").exists()
    assert not Ticket.objects.by_reference(f"HD-{ticket.pk + 1000}").exists()
    assert not Ticket.objects.by_reference("HD-" + "9" * 18).exists()


# --- Visibility ----------------------------------------------------------------------------------


@pytest.fixture
def world(organization, other_organization, requester, org_admin, outsider):
    """Two organizations: our requester's ticket, a colleague's ticket, and another organization's."""
    colleague = CustomerFactory(membership__organization=organization)
    return {
        "mine": TicketFactory(requester=requester),
        "colleague": TicketFactory(requester=colleague),
        "other_org": TicketFactory(requester=outsider),
        "colleague_user": colleague,
    }


def _visible(user):
    return set(Ticket.objects.visible_to(user).values_list("pk", flat=True))


def test_agents_see_every_ticket(world, agent):
    assert _visible(agent) == {world["mine"].pk, world["colleague"].pk, world["other_org"].pk}


def test_an_organization_admin_sees_the_organizations_tickets_only(world, org_admin):
    assert _visible(org_admin) == {world["mine"].pk, world["colleague"].pk}


def test_a_requester_sees_only_their_own_tickets(world, requester):
    assert _visible(requester) == {world["mine"].pk}


def test_an_outsider_sees_only_their_organizations_own_tickets(world, outsider):
    assert _visible(outsider) == {world["other_org"].pk}


def test_an_admin_of_another_organization_sees_none_of_ours(world, other_organization):
    other_admin = CustomerFactory(membership__organization=other_organization, membership__role="admin")
    assert _visible(other_admin) == {world["other_org"].pk}


def test_a_customer_without_any_ticket_sees_nothing(world, organization):
    newcomer = CustomerFactory(membership__organization=organization)
    assert _visible(newcomer) == set()


def test_a_user_who_is_neither_agent_nor_customer_sees_nothing(world):
    assert _visible(UserFactory()) == set()


@pytest.mark.parametrize("who", ["requester", "org_admin", "agent"])
def test_inactive_users_see_nothing(world, request, who):
    user = request.getfixturevalue(who)
    user.is_active = False
    user.save()
    assert _visible(user) == set()


def test_anonymous_sees_nothing(world):
    assert _visible(AnonymousUser()) == set()


def test_a_requester_moved_to_another_organization_no_longer_sees_old_tickets(world, requester):
    Membership.objects.filter(user=requester).update(organization=OrganizationFactory())
    requester.refresh_from_db()
    assert _visible(requester) == set()


def test_customers_see_public_messages_only_and_agents_see_notes(world, requester, agent, outsider):
    ticket = world["mine"]
    reply = Message.objects.create(
        ticket=ticket, author=agent, author_role="agent", body="hi", internal=False, created_at=T0
    )
    note = Message.objects.create(
        ticket=ticket, author=agent, author_role="agent", body="note", internal=True, created_at=T0
    )
    assert set(Message.objects.visible_to(requester)) == {reply}
    assert set(Message.objects.visible_to(agent)) == {reply, note}
    assert set(Message.objects.visible_to(outsider)) == set()
    assert set(Message.objects.visible_to(AnonymousUser())) == set()


# --- Queue order ---------------------------------------------------------------------------------


def test_queue_order_puts_s1_first_then_the_oldest():
    s3_old = TicketFactory(severity=Severity.S3, created_at=T0 - timedelta(days=3))
    s1_new = TicketFactory(severity=Severity.S1, created_at=T0)
    s5_oldest = TicketFactory(severity=Severity.S5, created_at=T0 - timedelta(days=30))
    s1_old = TicketFactory(severity=Severity.S1, created_at=T0 - timedelta(hours=1))
    s3_new = TicketFactory(severity=Severity.S3, created_at=T0 - timedelta(days=1))
    s2 = TicketFactory(severity=Severity.S2, created_at=T0)

    assert list(Ticket.objects.in_queue_order()) == [s1_old, s1_new, s2, s3_old, s3_new, s5_oldest]


def test_queue_order_breaks_ties_by_id():
    first = TicketFactory(severity=Severity.S2, created_at=T0)
    second = TicketFactory(severity=Severity.S2, created_at=T0)
    assert list(Ticket.objects.in_queue_order()) == [first, second]


def test_queue_order_within_a_severity_puts_the_nearest_sla_due_time_before_age():
    """DESIGN: S1 first, then the earliest SLA due time, then age (tickets with no due time last)."""
    if "sla_due_at" not in {field.name for field in Ticket._meta.get_fields()}:
        pytest.skip("Ticket.sla_due_at is not there yet")
    no_due_oldest = TicketFactory(severity=Severity.S2, created_at=T0 - timedelta(days=9))
    due_later = TicketFactory(severity=Severity.S2, created_at=T0 - timedelta(days=5), sla_due_at=T0)
    due_sooner = TicketFactory(
        severity=Severity.S2, created_at=T0 - timedelta(days=1), sla_due_at=T0 - timedelta(hours=2)
    )
    s1_no_due = TicketFactory(severity=Severity.S1, created_at=T0)
    assert list(Ticket.objects.in_queue_order()) == [s1_no_due, due_sooner, due_later, no_due_oldest]


def test_open_tickets_are_the_working_statuses():
    tickets = {status: TicketFactory(status=status) for status in Status.values}
    assert set(Ticket.objects.open()) == {tickets[status] for status in OPEN_STATUSES}
    assert all(tickets[status].is_open for status in OPEN_STATUSES)
    assert not tickets[Status.RESOLVED].is_open
    assert not tickets[Status.CLOSED].is_open


@pytest.mark.parametrize("severity", Severity.values)
def test_every_severity_has_a_definition(severity):
    assert Ticket(severity=severity).severity_definition


# --- Time zones ----------------------------------------------------------------------------------


def test_every_offered_timezone_loads_with_zoneinfo():
    failures = {}
    for name in pytz.common_timezones:
        try:
            # Converting an instant proves the IANA data is really there, not just the name.
            T0.astimezone(ZoneInfo(name)).utcoffset()
        except Exception as exc:  # noqa: BLE001 - collect every failure, report them together
            failures[name] = repr(exc)
    assert len(pytz.common_timezones) > 400
    assert failures == {}


def test_timezone_choices_are_the_pytz_common_timezones():
    assert [value for value, _label in TIMEZONE_CHOICES] == list(pytz.common_timezones)


def test_organization_zoneinfo_is_its_timezone():
    org = OrganizationFactory(timezone="Europe/Berlin")
    assert org.zoneinfo == ZoneInfo("Europe/Berlin")
