"""`manage.py seed_demo`: idempotent demo data through the services; benchmark volume in bulk."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from sla.models import Metric, TicketClock
from tickets import dashboard, rollups
from tickets.agents import AGENTS_GROUP
from tickets.models import (
    OPEN_STATUSES,
    Candidate,
    Channel,
    DashboardStaleTicket,
    Event,
    Membership,
    Message,
    Organization,
    Severity,
    Status,
    Ticket,
)

User = get_user_model()

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def logins_block(output: str) -> str:
    return output[output.index("Demo logins") :]


def row_counts() -> dict[str, int]:
    models = (User, Organization, Membership, Ticket, Candidate, Message, Event)
    return {model.__name__: model.objects.count() for model in models}


def test_second_run_creates_nothing_and_prints_the_same_logins():
    # One test seeds twice and checks everything: each fresh seed replays ~50 histories (~2 s).
    first = seed()
    counts = row_counts()

    second = seed()

    assert row_counts() == counts
    assert "nothing created" in second
    assert logins_block(second) == logins_block(first)
    assert "http://127.0.0.1:8000/admin/" in first and "http://127.0.0.1:8000/portal/" in first
    for username, password in [
        ("admin", "demo-admin-2026"),
        ("agent1", "demo-agent-2026"),
        ("sarah.chen", "demo-customer-2026"),
    ]:
        assert f"{username}" in first and password in first
        assert User.objects.get(username=username).check_password(password)
    assert_demo_people()
    assert_demo_tickets()


def assert_demo_people():
    organizations = Organization.objects.all()
    assert organizations.count() == 3
    assert len({organization.timezone for organization in organizations}) == 3
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    agents = User.objects.filter(is_staff=True, is_superuser=False, groups__name=AGENTS_GROUP)
    assert sorted(agents.values_list("username", flat=True)) == ["agent1", "agent2"]
    for organization in organizations:
        memberships = Membership.objects.filter(organization=organization).select_related("user")
        assert memberships.filter(role=Membership.Role.ADMIN).exists()
        assert memberships.filter(role=Membership.Role.REQUESTER).count() >= 2
        for membership in memberships:
            user = membership.user
            assert user.first_name and user.last_name and user.email.endswith(".example")
            assert not user.is_staff


def assert_demo_tickets():
    """Every severity, status and channel, a real audit trail, intake and a backdated past."""
    now = timezone.now()
    tickets = Ticket.objects.all()

    assert 40 <= tickets.count() <= 60
    assert set(tickets.values_list("severity", flat=True)) == set(Severity.values)
    assert set(tickets.values_list("status", flat=True)) == set(Status.values)
    assert set(tickets.values_list("channel", flat=True)) == set(Channel.values)
    assert tickets.filter(severity=Severity.S1).count() < tickets.filter(severity=Severity.S3).count()
    assert set(tickets.values_list("organization__name", flat=True)) == set(
        Organization.objects.values_list("name", flat=True)
    )

    # The services wrote the audit trail: one CREATED event per ticket, then the later changes.
    created_events = Event.objects.filter(kind=Event.Kind.CREATED)
    assert created_events.count() == tickets.count()
    assert created_events.values("ticket").distinct().count() == tickets.count()
    kinds = set(Event.objects.values_list("kind", flat=True))
    assert {"status_changed", "severity_changed", "assigned", "replied", "note_added"} <= kinds
    assert Message.objects.filter(internal=True).exists()
    assert Message.objects.filter(internal=False, author_role="agent").exists()
    assert Message.objects.filter(internal=False, author_role="customer").exists()

    # Intake and interview context.
    assert not tickets.filter(Q(product_area="") | Q(affected_role="") | Q(impact_scope="")).exists()
    assert not tickets.filter(severity=Severity.S5, reason="").exists()
    with_interviews = tickets.annotate(n=Count("candidates")).filter(n__gt=0).exclude(interview_position="")
    assert with_interviews.count() >= tickets.count() // 2
    assert not with_interviews.filter(
        Q(interview_interviewers=[]) | Q(interview_starts_at__isnull=True) | Q(interview_template_name="")
    ).exists()

    # History is backdated over ~3 weeks and never in the future (interview dates are plans, not history).
    assert min(tickets.values_list("created_at", flat=True)) < now - timezone.timedelta(days=10)
    for field in ("created_at", "updated_at", "resolved_at", "closed_at", "started_at"):
        assert not tickets.filter(**{f"{field}__gt": now}).exists(), field
    assert not Event.objects.filter(created_at__gt=now).exists()
    assert not Message.objects.filter(created_at__gt=now).exists()
    for ticket in tickets.prefetch_related("events"):
        assert all(event.created_at >= ticket.created_at for event in ticket.events.all())
        assert ticket.started_at is None or ticket.started_at <= ticket.created_at
    assert not tickets.filter(status__in=[Status.RESOLVED, Status.CLOSED], resolved_at__isnull=True).exists()
    assert not tickets.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not Message.objects.filter(ticket__status=Status.NEW, author_role="agent").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="benchmark volumes are loaded with COPY")
def test_benchmark_tickets_are_added_in_bulk_with_their_created_events():
    seed()
    before = row_counts()

    before_max = Ticket.objects.order_by("-pk").values_list("pk", flat=True).first()
    output = seed("--tickets", "500", "--batch-size", "200")

    after = row_counts()
    assert after["Ticket"] == before["Ticket"] + 500
    assert after["Event"] == before["Event"] + 500
    assert after["User"] == before["User"] and after["Organization"] == before["Organization"]
    assert Event.objects.filter(kind=Event.Kind.CREATED).count() == after["Ticket"]
    assert "Inserted 500 benchmark tickets" in output
    assert "200/500" in output and "500/500" in output  # one progress line per batch off a terminal

    now = timezone.now()
    tickets = Ticket.objects.all()
    assert not tickets.filter(created_at__gt=now).exists()
    assert not tickets.filter(Q(resolved_at__gt=now) | Q(closed_at__gt=now) | Q(updated_at__gt=now)).exists()
    assert not tickets.filter(status__in=[Status.RESOLVED, Status.CLOSED], resolved_at__isnull=True).exists()
    assert not tickets.filter(status=Status.CLOSED, closed_at__isnull=True).exists()
    assert not tickets.exclude(status=Status.CLOSED).filter(closed_at__isnull=False).exists()
    assert not tickets.filter(closed_at__lt=F("resolved_at")).exists()
    statuses = dict(tickets.values_list("status").annotate(n=Count("pk")))
    assert statuses[Status.CLOSED] + statuses[Status.RESOLVED] > 300

    # Each has a conversation of 2-4 messages (notes by agents only), within its lifetime.
    bulk = tickets.filter(pk__gt=before_max)
    counts = dict(bulk.annotate(n=Count("messages")).values_list("pk", "n"))
    assert set(counts.values()) <= {2, 3, 4} and len(counts) == 500
    assert Message.objects.filter(ticket__in=bulk, internal=True).exists()
    assert not Message.objects.filter(ticket__in=bulk, internal=True).exclude(author_role="agent").exists()
    assert not Message.objects.filter(ticket__in=bulk, created_at__lt=F("ticket__created_at")).exists()
    assert_benchmark_clocks(bulk)
    assert_dashboard_rebuilt()
    # The search vectors are what the triggers would have built.
    sample = list(bulk.order_by("pk").values_list("pk", "search_all", "search_public")[:20])
    with connection.cursor() as cursor:
        for pk, *_ in sample:
            cursor.execute("SELECT tickets_search_refresh(%s)", [pk])
    assert list(bulk.order_by("pk").values_list("pk", "search_all", "search_public")[:20]) == sample
    # The session is left as it was: triggers on, foreign keys checked.
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"


def assert_benchmark_clocks(bulk) -> None:
    """Every ticket has a first-response clock: met at its first agent reply, on time or late
    (breached), or still unmet for a new ticket; and a resolution clock: met when it was resolved (on
    time or late) or running for an open one. The queue's sort key is the nearest running due time."""
    first_responses = TicketClock.objects.filter(ticket__in=bulk, metric=Metric.FIRST_RESPONSE)
    resolutions = TicketClock.objects.filter(ticket__in=bulk, metric=Metric.RESOLUTION)
    assert first_responses.count() == resolutions.count() == bulk.count()
    assert not first_responses.filter(ticket__status=Status.NEW, met_at__isnull=False).exists()
    answered = first_responses.exclude(ticket__status=Status.NEW)
    assert not answered.filter(met_at__isnull=True).exists()
    first_agent_reply = (
        Message.objects.filter(ticket=OuterRef("ticket"), author_role="agent", internal=False)
        .order_by("created_at")
        .values("created_at")[:1]
    )
    assert not answered.exclude(met_at=Subquery(first_agent_reply)).exists()
    late = answered.filter(state="breached")
    assert late.exists() and answered.filter(state="met").exists()
    assert not late.exclude(breached_at__lt=F("met_at")).exists()
    assert answered.count() > 4 * late.count()  # about one in five is late
    done = resolutions.filter(ticket__status__in=[Status.RESOLVED, Status.CLOSED])
    assert not done.exclude(met_at=F("ticket__resolved_at")).exists()
    assert done.filter(state="breached").exists() and done.filter(state="met").exists()
    assert not resolutions.filter(ticket__status__in=OPEN_STATUSES, met_at__isnull=False).exists()
    nearest = (
        TicketClock.objects.filter(
            ticket=OuterRef("pk"), met_at__isnull=True, paused_at__isnull=True, due_at__isnull=False
        )
        .order_by("due_at")
        .values("due_at")[:1]
    )
    with_nearest = bulk.annotate(nearest=Subquery(nearest))
    assert with_nearest.filter(nearest__isnull=False).count() == bulk.filter(sla_due_at__isnull=False).count()
    assert not with_nearest.filter(nearest__isnull=False).exclude(sla_due_at=F("nearest")).exists()


def assert_dashboard_rebuilt() -> None:
    """The dashboard's roll-ups were rebuilt at the end of the load: equal to the live figures."""
    assert not DashboardStaleTicket.objects.exists()
    today = timezone.now().date()
    period = dashboard.DateRange.from_days(today - timedelta(days=364), today)
    figures = rollups.range_figures(period)
    assert figures.backlog == dashboard.backlog(period)
    assert figures.attainment == dashboard.sla_attainment(period)
    assert figures.channels == dashboard.tickets_by_channel(period)
    assert rollups.open_by_severity_status() == dashboard.open_by_severity_status()
    counts = {row.severity: row.count for row in rollups.first_response_times(period)}
    assert counts == {row.severity: row.count for row in dashboard.first_response_times(period)}


def test_password_option_sets_one_password_and_existing_users_keep_theirs():
    output = seed("--password", "shared-demo-pass")
    assert User.objects.get(username="agent2").check_password("shared-demo-pass")
    assert output.count("shared-demo-pass") == User.objects.count()

    again = seed()

    assert User.objects.get(username="agent2").check_password("shared-demo-pass")
    assert "(changed since seeding)" in again and "--reset-passwords" in again
    seed("--reset-passwords")
    assert User.objects.get(username="agent2").check_password("demo-agent-2026")
