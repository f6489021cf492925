"""The SLA dashboard: every figure against a hand-counted fixture, the page (who may see it, the range
and organization form, the CSV) and the query count, which must not grow with the number of tickets.

The figures' functions here are the live reference (`tickets.dashboard`); the page reads them from the
roll-ups on PostgreSQL (tests/tickets/test_dashboard_rollups.py compares the two) and from the live
functions on SQLite, so the page's tests hold in both modes.

The fixture is twelve tickets around the range 2025-03-03 (a Monday) to 2025-03-16, both included, i.e.
[2025-03-03 00:00 UTC, 2025-03-17 00:00 UTC): two UTC weeks. The numbers in the comments are counted by
hand from the table in `world`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sla.models import Clock, Metric, TicketClock
from tests.factories import PASSWORD, CustomerFactory, OrganizationFactory, TicketFactory, UserFactory
from tickets import dashboard
from tickets.admin.dashboard import DashboardRangeForm, default_range
from tickets.models import Channel, Severity, Status, Ticket

URL = reverse("dashboard")
FIRST, LAST = date(2025, 3, 3), date(2025, 3, 16)
PERIOD = dashboard.DateRange.from_days(FIRST, LAST)
FR, RES, UPD = Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.NEXT_UPDATE


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


def clock(ticket, metric, *, started=None, met=None, breached=None) -> TicketClock:
    state = "breached" if breached else "met" if met else "active"
    return TicketClock(
        ticket=ticket,
        metric=metric,
        clock=Clock.ALWAYS,
        target_minutes=60,
        warn_at_percent=75,
        state=state,
        started_at=started or ticket.created_at,
        met_at=met,
        breached_at=breached,
    )


@dataclass
class World:
    tickets: dict[str, Ticket]


@pytest.fixture
def world(db, requester) -> World:
    """ref: severity, status, channel, created, resolved, closed (UTC, 2025)."""
    rows = {
        # In the range.
        "T1": (Severity.S1, Status.CLOSED, Channel.EMAIL, at(3, 10), at(3, 14), at(5, 9)),
        "T2": (Severity.S1, Status.OPEN, Channel.PORTAL, at(4, 8), None, None),
        "T3": (Severity.S2, Status.RESOLVED, Channel.PORTAL, at(5, 12), at(12, 10), None),
        "T4": (Severity.S2, Status.PENDING, Channel.CHAT, at(10, 9), None, None),
        "T5": (Severity.S3, Status.NEW, Channel.PORTAL, at(11, 15), None, None),
        "T6": (Severity.S3, Status.NEW, Channel.API, at(16, 23, 59, 59), None, None),  # last second
        "T11": (Severity.S5, Status.ON_HOLD, Channel.AGENT, at(9, 23, 59, 59), None, None),  # end of week 1
        "T12": (Severity.S2, Status.CLOSED, Channel.CHAT, at(8, 6), at(17), at(18)),  # resolved at the end
        # Outside the range.
        "T7": (Severity.S2, Status.NEW, Channel.PORTAL, at(17), None, None),  # created exactly at the end
        "T8": (Severity.S3, Status.ON_HOLD, Channel.EMAIL, at(2, 23), None, None),  # open at the start
        "T9": (Severity.S4, Status.CLOSED, Channel.PORTAL, at(20, month=2), at(25, month=2), at(1)),
        "T10": (
            Severity.S3,
            Status.RESOLVED,
            Channel.EMAIL,
            at(27, month=2),
            at(6),
            None,
        ),  # done Mar 6 00:00
    }
    tickets = {
        ref: TicketFactory(
            requester=requester,
            subject=ref,
            severity=severity,
            status=status,
            channel=channel,
            created_at=created,
            resolved_at=resolved,
            closed_at=closed,
        )
        for ref, (severity, status, channel, created, resolved, closed) in rows.items()
    }
    t = tickets
    TicketClock.objects.bulk_create(
        [
            clock(t["T1"], FR, met=at(3, 10, 20)),  # 20 min, on time
            clock(t["T1"], RES, met=at(3, 14)),
            clock(t["T2"], FR, met=at(4, 9), breached=at(4, 8, 30)),  # 60 min, late: breached
            clock(t["T2"], RES),  # running
            clock(t["T2"], UPD, met=at(4, 10)),  # next_update: not on the dashboard
            clock(t["T3"], FR, met=at(5, 13)),  # 60 min
            clock(t["T3"], RES, met=at(12, 10), breached=at(8)),
            clock(t["T12"], FR, met=at(8, 6, 30)),  # 30 min
            clock(t["T12"], RES, met=at(17)),
            clock(t["T11"], FR),  # running
            clock(t["T4"], FR, met=at(10, 11)),  # 120 min
            clock(t["T4"], RES, breached=at(14)),  # breached, never met
            clock(t["T5"], FR, breached=at(11, 16)),
            clock(t["T5"], RES),
            clock(t["T6"], FR, met=at(17, 0, 30)),  # met after the range: not among the response times
            clock(t["T8"], FR, met=at(3, 1)),  # 120 min, met in the range (ticket created before it)
            clock(t["T7"], FR),
        ]
    )
    return World(tickets)


# --- the figures ------------------------------------------------------------------------------------


def test_open_tickets_now_by_severity_and_status(world):
    # Open now: T2 (S1 open), T4 (S2 pending), T7 (S2 new), T5 and T6 (S3 new), T8 (S3 on_hold),
    # T11 (S5 on_hold).
    assert dashboard.open_by_severity_status() == {
        "S1": {"new": 0, "open": 1, "pending": 0, "on_hold": 0},
        "S2": {"new": 1, "open": 0, "pending": 1, "on_hold": 0},
        "S3": {"new": 2, "open": 0, "pending": 0, "on_hold": 1},
        "S4": {"new": 0, "open": 0, "pending": 0, "on_hold": 0},
        "S5": {"new": 0, "open": 0, "pending": 0, "on_hold": 1},
    }


def test_sla_attainment_per_severity_and_week(world):
    week1, week2 = date(2025, 3, 3), date(2025, 3, 10)
    rows = [
        (row.week, row.severity, row.metric, row.met, row.breached, row.running, row.percent)
        for row in dashboard.sla_attainment(PERIOD)
    ]
    assert rows == [
        # Week 1: T1, T2 (S1), T3, T12 (S2), T11 (S5, created on its last second).
        (week1, "S1", FR, 1, 1, 0, 50.0),
        (week1, "S1", RES, 1, 0, 1, 100.0),
        (week1, "S2", FR, 2, 0, 0, 100.0),
        (week1, "S2", RES, 1, 1, 0, 50.0),  # T3 met late counts as breached
        (week1, "S5", FR, 0, 0, 1, None),
        # Week 2: T4 (S2), T5, T6 (S3; T6's first response came after the range, on time).
        (week2, "S2", FR, 1, 0, 0, 100.0),
        (week2, "S2", RES, 0, 1, 0, 0.0),
        (week2, "S3", FR, 1, 1, 0, 50.0),
        (week2, "S3", RES, 0, 0, 1, None),
    ]


def test_first_response_times_median_and_p90(world):
    rows = {row.severity: (row.count, row.median, row.p90) for row in dashboard.first_response_times(PERIOD)}
    minutes = lambda n: timedelta(minutes=n)  # noqa: E731
    assert rows == {
        # 20 and 60 min: median 40, p90 = 20 + 0.9 × 40.
        "S1": (2, minutes(40), minutes(56)),
        # 30, 60, 120 min: median 60, p90 at position 1.8 = 60 + 0.8 × 60.
        "S2": (3, minutes(60), minutes(108)),
        # T8's 120 min (met in the range); T6 was met after it, T5 never.
        "S3": (1, minutes(120), minutes(120)),
    }


def test_percentile_matches_percentile_cont():
    values = [timedelta(seconds=s) for s in (10, 20, 30, 40)]
    assert dashboard.percentile(values, 0.5) == timedelta(seconds=25)
    assert dashboard.percentile(values, 0.9) == timedelta(seconds=37)
    assert dashboard.percentile(values[:1], 0.9) == timedelta(seconds=10)


def test_backlog_per_day(world):
    points = dashboard.backlog(PERIOD)
    assert [point.day for point in points] == [FIRST + timedelta(days=i) for i in range(14)]
    assert points[0].at == at(4) and points[-1].at == at(17)
    # Open at the start: T8 and T10 (resolved exactly at Mar 6 00:00, so still open at the end of Mar 5).
    # Then +T1−T1 (3rd), +T2, +T3, −T10, +T12 (8th), +T11, +T4, +T5, −T3 (12th), +T6 (16th, last second).
    # T7, created exactly at the end, is not open at the end of the 16th; T12 is (resolved at that instant).
    assert [point.open for point in points] == [2, 3, 4, 3, 3, 4, 5, 6, 7, 6, 6, 6, 6, 7]


def test_backlog_per_week_for_long_ranges(world):
    period = dashboard.DateRange.from_days(date(2025, 1, 1), date(2025, 4, 30))  # 120 days
    points = dashboard.backlog(period)
    assert dashboard.backlog_step(period) == timedelta(weeks=1)
    assert len(points) == 18  # 17 weeks and a last, one-day bucket
    assert points[0].day == date(2025, 1, 7) and points[-1].day == date(2025, 4, 30)
    assert points[-1].at == period.end

    def open_at(instant):  # the definition, ticket by ticket (fine for a dozen)
        return sum(
            1
            for t in world.tickets.values()
            if t.created_at < instant
            and ((t.resolved_at or t.closed_at) is None or (t.resolved_at or t.closed_at) >= instant)
        )

    assert [point.open for point in points] == [open_at(point.at) for point in points]
    # By hand: nothing before Feb 20; T9 (Feb 20–25) alone in the week ending Feb 25 ... then today's 7.
    assert points[7].day == date(2025, 2, 25) and points[7].open == 0
    assert points[-1].open == 7


def test_backlog_needs_whole_days():
    with pytest.raises(ValueError, match="whole UTC days"):
        dashboard.backlog(dashboard.DateRange(at(3, 12), at(5)))


def test_tickets_by_channel(world):
    # Created in the range: T1 email; T2, T3, T5 portal; T4, T12 chat; T6 api; T11 agent.
    assert dashboard.tickets_by_channel(PERIOD) == {"portal": 3, "chat": 2, "email": 1, "api": 1, "agent": 1}


def test_empty_database_gives_zeros(db):
    assert dashboard.sla_attainment(PERIOD) == []
    assert dashboard.first_response_times(PERIOD) == []
    assert [point.open for point in dashboard.backlog(PERIOD)] == [0] * 14
    assert set(dashboard.tickets_by_channel(PERIOD).values()) == {0}
    assert all(n == 0 for row in dashboard.open_by_severity_status().values() for n in row.values())


def test_date_range_weeks_and_days():
    period = dashboard.DateRange.from_days(date(2025, 3, 5), date(2025, 3, 18))
    assert period.days == 14
    assert period.weeks() == [date(2025, 3, 3), date(2025, 3, 10), date(2025, 3, 17)]


# --- the page ---------------------------------------------------------------------------------------


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def query(start: date, end: date, **extra) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), **extra}


def test_agent_sees_the_dashboard(agent_client, world):
    response = agent_client.get(URL, query(FIRST, LAST))
    assert response.status_code == 200
    content = response.content.decode()
    assert "UTC" in content
    for canvas in (
        "chart-open",
        "chart-channels",
        "chart-attainment-first_response",
        "chart-attainment-resolution",
        "chart-response-times",
        "chart-backlog",
    ):
        assert f'id="{canvas}"' in content
    assert '<script id="dashboard-data" type="application/json">' in content
    assert "tickets/vendor/chartjs-4.4.9/chart.umd.js" in content
    assert "tickets/dashboard.js" in content
    data = response.context["chart_data"]
    assert data["open"]["new"] == [0, 1, 2, 0, 0]
    assert data["weeks"] == ["2025-03-03", "2025-03-10"]
    assert data["attainment"]["first_response"]["series"]["S1"] == [50.0, None]
    assert data["attainment"]["resolution"]["series"]["S2"] == [50.0, 0.0]
    assert data["response_times"][1] == {"severity": "S2", "median": 60.0, "p90": 108.0}
    assert data["backlog"]["values"] == [2, 3, 4, 3, 3, 4, 5, 6, 7, 6, 6, 6, 6, 7]
    assert {c["key"]: c["count"] for c in data["channels"]}["portal"] == 3
    # The tables too.
    assert "1 h 48 min" in content  # S2 p90
    assert "50 %" in content and "(1/2)" in content  # S1 first response, week 1


def test_default_range_is_the_last_twelve_weeks(agent_client):
    response = agent_client.get(URL)
    assert response.status_code == 200
    form = response.context["form"]
    today = timezone.now().date()
    assert form.cleaned_data == {"start": today - timedelta(days=83), "end": today, "organization": None}
    assert len(response.context["chart_data"]["backlog"]["values"]) == 84
    assert default_range(date(2025, 3, 16)) == {"start": date(2024, 12, 23), "end": date(2025, 3, 16)}


def test_customer_is_sent_to_the_console_sign_in(client, requester):
    assert client.login(username=requester.username, password=PASSWORD)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_anonymous_is_sent_to_the_console_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_ticket_permission_is_refused(client, db):
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == 403
    clerk.user_permissions.add(
        Permission.objects.get(codename="view_ticket", content_type__app_label="tickets")
    )
    client.force_login(UserFactory._meta.model.objects.get(pk=clerk.pk))
    assert client.get(URL).status_code == 200


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (query(LAST, FIRST), "The start date is after the end date."),
        (query(date(2023, 1, 1), date(2025, 1, 1)), "longer than two years"),
        ({"start": "2025-13-45", "end": "2025-03-01"}, "Enter a valid date."),
        ({"start": "yesterday", "end": "x" * 500}, "Enter a valid date."),
        (query(date(9999, 12, 1), date(9999, 12, 31)), "too far in the future"),
        (query(FIRST, LAST, organization="acme"), "Select a valid choice."),
        (query(FIRST, LAST, organization="999999999"), "Select a valid choice."),
        (query(FIRST, LAST, organization="1" * 40), "Select a valid choice."),
    ],
)
def test_bad_ranges_are_form_errors(agent_client, params, message):
    response = agent_client.get(URL, params)
    assert response.status_code == 200
    assert response.context["figures"] is None
    assert message in response.content.decode()
    assert 'id="dashboard-data"' not in response.content.decode()
    csv_response = agent_client.get(URL, {**params, "format": "csv"})
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()


def test_two_years_exactly_is_allowed(agent_client):
    response = agent_client.get(URL, query(date(2023, 3, 1), date(2025, 2, 28)))  # 731 days
    assert response.status_code == 200
    assert response.context["figures"] is not None
    assert response.context["figures"].backlog_step == "week"


def test_range_form_accepts_one_day():
    form = DashboardRangeForm({"start": "2025-03-03", "end": "2025-03-03"})
    assert form.is_valid()
    assert form.period == dashboard.DateRange(at(3), at(4))


def test_csv_has_every_section(agent_client, world):
    response = agent_client.get(URL, query(FIRST, LAST, format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="sla-dashboard-2025-03-03-to-2025-03-16.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    sections = {row[1]: i for i, row in enumerate(rows) if row and row[0] == "section"}
    assert list(sections) == [
        "Open tickets now by severity and status",
        "SLA attainment per week of creation (UTC weeks from Monday)",
        "First-response time of clocks met in the range (wall-clock minutes)",
        "Backlog: tickets open at the end of each day",
        "Tickets created in the range by channel",
    ]

    def section(title):
        start = sections[title] + 1
        end = next((i for i in range(start, len(rows)) if not rows[i]), len(rows))
        return rows[start:end]

    open_rows = section("Open tickets now by severity and status")
    assert open_rows[0] == ["severity", "new", "open", "pending", "on_hold", "total"]
    assert open_rows[3] == ["S3", "2", "0", "0", "1", "3"]
    assert open_rows[-1] == ["total", "3", "1", "1", "2", "7"]
    attainment = section("SLA attainment per week of creation (UTC weeks from Monday)")
    assert attainment[0][0] == "week"
    assert attainment[1] == ["2025-03-03", "S1", "first_response", "1", "1", "0", "50.0"]
    assert attainment[5] == ["2025-03-03", "S5", "first_response", "0", "0", "1", ""]
    assert len(attainment) == 10
    times = section("First-response time of clocks met in the range (wall-clock minutes)")
    assert times[1:] == [
        ["S1", "2", "40.0", "56.0"],
        ["S2", "3", "60.0", "108.0"],
        ["S3", "1", "120.0", "120.0"],
    ]
    backlog = section("Backlog: tickets open at the end of each day")
    assert backlog[0] == ["last_day", "end_utc", "open"]
    assert backlog[1] == ["2025-03-03", "2025-03-04T00:00:00+00:00", "2"]
    assert [row[2] for row in backlog[1:]] == [
        "2",
        "3",
        "4",
        "3",
        "3",
        "4",
        "5",
        "6",
        "7",
        "6",
        "6",
        "6",
        "6",
        "7",
    ]
    channels = section("Tickets created in the range by channel")
    assert channels == [
        ["channel", "count"],
        ["portal", "3"],
        ["chat", "2"],
        ["email", "1"],
        ["api", "1"],
        ["agent", "1"],
    ]


def test_one_organization(agent_client, world, organization, other_organization):
    """The world's tickets are all `organization`'s; another's S1 ticket by email counts for all only."""
    TicketFactory(
        requester=CustomerFactory(membership__organization=other_organization),
        severity=Severity.S1,
        status=Status.OPEN,
        channel=Channel.EMAIL,
        created_at=at(5, 10),
    )
    everyone = agent_client.get(URL, query(FIRST, LAST))
    assert everyone.context["figures"].organization == "All organizations"
    assert everyone.context["chart_data"]["open"]["open"] == [2, 0, 0, 0, 0]
    response = agent_client.get(URL, query(FIRST, LAST, organization=organization.pk))
    assert response.status_code == 200
    data = response.context["chart_data"]
    assert data["open"]["open"] == [1, 0, 0, 0, 0]  # T2 only
    assert {c["key"]: c["count"] for c in data["channels"]}["email"] == 1  # T1
    assert data["backlog"]["values"] == [2, 3, 4, 3, 3, 4, 5, 6, 7, 6, 6, 6, 6, 7]
    content = response.content.decode()
    assert f"Showing <strong>{organization.name}</strong>" in content
    assert f'<option value="{organization.pk}" selected>{organization.name}</option>' in content
    assert f"organization={organization.pk}" in response.context["csv_query"]
    rows = list(
        csv.reader(
            io.StringIO(
                agent_client.get(
                    URL, query(FIRST, LAST, organization=organization.pk, format="csv")
                ).content.decode()
            )
        )
    )
    assert rows[1] == ["organization", organization.name]
    assert ["S1", "0", "1", "0", "0", "1"] in rows


def test_an_organization_beyond_the_listed_ones_is_chosen_by_its_id(agent_client, monkeypatch, db):
    from tickets.admin import dashboard as page

    monkeypatch.setattr(page, "ORGANIZATIONS_LISTED", 2)
    first, second, third = (OrganizationFactory(name=f"Org {letter}") for letter in "ABC")
    listed = agent_client.get(URL, query(FIRST, LAST)).content.decode()
    assert f'value="{first.pk}"' in listed and f'value="{second.pk}"' in listed
    assert f'value="{third.pk}"' not in listed
    response = agent_client.get(URL, query(FIRST, LAST, organization=third.pk))
    assert response.status_code == 200
    assert response.context["figures"].organization == "Org C"
    assert f'<option value="{third.pk}" selected>Org C</option>' in response.content.decode()


def test_the_page_from_the_tickets_is_the_page_from_the_roll_ups(agent_client, world, monkeypatch):
    """What SQLite's mode shows (the live functions) is what PostgreSQL's roll-ups show."""
    from tickets import rollups

    params = query(FIRST, LAST)
    read = agent_client.get(URL, params).context["chart_data"]
    monkeypatch.setattr(rollups, "available", lambda: False)
    assert agent_client.get(URL, params).context["chart_data"] == read


def test_console_home_links_to_the_dashboard_and_the_queues(agent_client):
    content = agent_client.get(reverse("admin:index")).content.decode()
    assert 'id="agent-console"' in content
    assert f'href="{URL}"' in content
    for queue, label in [
        ("mine", "My open tickets"),
        ("unassigned_urgent", "Unassigned S1/S2"),
        ("at_risk", "At risk"),
        ("breached", "Breached"),
        ("waiting", "Waiting on customer"),
        ("open", "All open"),
    ]:
        assert f'<a href="/admin/tickets/ticket/?queue={queue}">{label}</a>' in content
    assert 'id="recent-actions-module"' in content  # the admin's own index is still there


# --- queries ----------------------------------------------------------------------------------------


def make_tickets(count: int) -> None:
    """`count` tickets over the default range, with first-response and resolution clocks in all states."""
    requester = CustomerFactory()
    now = timezone.now()
    statuses = [Status.NEW, Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED]
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                subject=f"Load {i}",
                description="x",
                severity=Severity.values[i % 5],
                status=statuses[i % 5],
                channel=Channel.values[i % 5],
                requester=requester,
                organization=requester.membership.organization,
                created_at=(created := now - timedelta(hours=7 * i + 1)),
                updated_at=created,
                resolved_at=created + timedelta(hours=5)
                if statuses[i % 5] in ("resolved", "closed")
                else None,
                closed_at=created + timedelta(hours=9) if statuses[i % 5] == "closed" else None,
            )
            for i in range(count)
        ]
    )
    clocks = []
    for i, ticket in enumerate(tickets):
        for metric in (FR, RES):
            clocks.append(
                clock(
                    ticket,
                    metric,
                    met=ticket.created_at + timedelta(minutes=10 + i) if i % 3 else None,
                    breached=ticket.created_at + timedelta(hours=1) if i % 4 == 0 else None,
                )
            )
    TicketClock.objects.bulk_create(clocks)


def dashboard_queries(client, params: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params or {})
    assert response.status_code == 200
    return [entry["sql"] for entry in captured.captured_queries]


def test_query_count_does_not_grow_with_the_tickets(agent_client):
    make_tickets(20)
    dashboard_queries(agent_client)  # the session's first console page also reads the agent's time zone
    few = dashboard_queries(agent_client)
    make_tickets(200)  # over ten times as many days, which the page (on PostgreSQL) refreshes first
    many = dashboard_queries(agent_client)
    assert Ticket.objects.count() == 220
    assert len(many) == len(few), "\n".join(many)
    # Session, user, permissions, the notification badge, the organizations and the figures.
    assert len(many) <= 12, "\n".join(many)
    again = dashboard_queries(agent_client)  # nothing left to refresh: the same statements
    assert len(again) == len(many), "\n".join(again)
    year = {"start": (timezone.now() - timedelta(days=364)).date().isoformat()}
    assert len(dashboard_queries(agent_client, year)) == len(many)
    # One organization: the same statements (the one chosen is checked against the select's choices).
    organization = Ticket.objects.values_list("organization_id", flat=True).first()
    assert len(dashboard_queries(agent_client, {**year, "organization": organization})) == len(many)
    csv_before = len(dashboard_queries_csv(agent_client))
    make_tickets(50)
    assert len(dashboard_queries_csv(agent_client)) == csv_before


def dashboard_queries_csv(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, {"format": "csv"})
    assert response.status_code == 200
    return captured.captured_queries
