"""The SLA dashboard's roll-ups (tickets/rollups.py, migrations 0027-0028): equal to the live reference
(`tickets.dashboard`) on generated tickets before and after every kind of change, kept current by the
triggers, the beat task and the page's own refresh, never counted twice by two refreshes at once, and
the percentiles within their stated precision.

PostgreSQL only (the triggers and the refresh are SQL), except the percentile arithmetic; on SQLite the
page computes from the tickets (tests/tickets/test_dashboard.py runs its page tests in both modes).
"""

from __future__ import annotations

import io
import random
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from sla.models import Clock, Metric, TicketClock
from tests.factories import CustomerFactory, OrganizationFactory
from tickets import dashboard, rollups
from tickets.models import (
    Channel,
    DashboardDay,
    DashboardResponseBucket,
    DashboardStaleTicket,
    DashboardTicket,
    Severity,
    Status,
    Ticket,
)

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the roll-ups are kept by PostgreSQL's triggers"
)
URL = reverse("dashboard")
START = datetime(2025, 2, 3, tzinfo=UTC)  # a Monday
SPAN_DAYS = 75  # into the middle of April: whole months (March) and partial ones (February, April)
FR, RES = Metric.FIRST_RESPONSE, Metric.RESOLUTION


# --- generated tickets --------------------------------------------------------------------------------


def generate(rng: random.Random, organizations: list, count: int) -> list[Ticket]:
    """`count` tickets over SPAN_DAYS days from START in every severity, channel, status and
    organization, some on midnight exactly, some closed without a resolution time, with first-response
    and resolution clocks met on time, met late, breached and running, and responses under a second."""
    requesters = {org.pk: CustomerFactory(membership__organization=org) for org in organizations}
    tickets = []
    for i in range(count):
        created = START + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        if i % 17 == 0:
            created = created.replace(hour=0, minute=0, second=0, microsecond=0)
        status = rng.choice(Status.values)
        resolved = closed = None
        if status in (Status.RESOLVED, Status.CLOSED):
            resolved = created + timedelta(hours=rng.uniform(0.2, 400))
        if status == Status.CLOSED:
            closed = (resolved or created) + timedelta(hours=rng.uniform(1, 100))
            if rng.random() < 0.2:
                resolved = None  # closed without a resolution time
        organization = rng.choice(organizations)
        requester = requesters[organization.pk]
        tickets.append(
            Ticket(
                subject=f"Generated {i}",
                description="x",
                severity=rng.choice(Severity.values),
                status=status,
                channel=rng.choice(Channel.values),
                requester=requester,
                organization=organization,
                created_at=created,
                updated_at=closed or resolved or created,
                resolved_at=resolved,
                closed_at=closed,
            )
        )
    tickets = Ticket.objects.bulk_create(tickets)
    clocks = []
    for ticket in tickets:
        for metric, chance in ((FR, 0.9), (RES, 0.7)):
            if rng.random() < chance:
                clocks.append(clock(ticket, metric, rng))
    TicketClock.objects.bulk_create(clocks)
    return tickets


def clock(ticket: Ticket, metric: str, rng: random.Random) -> TicketClock:
    due = ticket.created_at + timedelta(hours=4)
    outcome = rng.choice(("on time", "late", "breached", "running", "instant"))
    met = breached = None
    if outcome == "on time":
        met = ticket.created_at + timedelta(seconds=rng.uniform(1, 4 * 3600))
    elif outcome == "instant":
        met = ticket.created_at + timedelta(seconds=rng.uniform(0, 0.99))
    elif outcome == "late":
        met, breached = ticket.created_at + timedelta(hours=rng.uniform(4, 200)), due
    elif outcome == "breached":
        breached = due
    return TicketClock(
        ticket=ticket,
        metric=metric,
        clock=Clock.ALWAYS,
        target_minutes=240,
        warn_at_percent=75,
        state="breached" if breached else "met" if met else "active",
        started_at=ticket.created_at,
        due_at=due,
        met_at=met,
        breached_at=breached,
    )


def periods() -> list[dashboard.DateRange]:
    first = START.date()
    return [
        dashboard.DateRange.from_days(first - timedelta(days=20), first + timedelta(days=SPAN_DAYS + 30)),
        dashboard.DateRange.from_days(date(2025, 3, 1), date(2025, 3, 31)),  # one whole month
        dashboard.DateRange.from_days(date(2025, 2, 11), date(2025, 4, 9)),  # days, a month, days
        dashboard.DateRange.from_days(date(2025, 3, 10), date(2025, 3, 16)),  # a week
        dashboard.DateRange.from_days(date(2025, 3, 12), date(2025, 3, 12)),  # a day
    ]


def assert_equal_to_the_reference(organizations: list) -> None:
    """Every figure of every period, for all organizations and each one: exact, but the percentiles."""
    for organization in [None, *(org.pk for org in organizations)]:
        assert rollups.open_by_severity_status(organization) == dashboard.open_by_severity_status(
            organization
        )
        for period in periods():
            figures = rollups.range_figures(period, organization)
            assert figures.attainment == dashboard.sla_attainment(period, organization)
            assert figures.backlog == dashboard.backlog(period, organization)
            assert figures.channels == dashboard.tickets_by_channel(period, organization)
            rolled = {row.severity: row for row in rollups.first_response_times(period, organization)}
            exact = {row.severity: row for row in dashboard.first_response_times(period, organization)}
            assert rolled.keys() == exact.keys(), (period, organization)
            for severity, row in exact.items():
                assert rolled[severity].count == row.count
                assert_close(rolled[severity].median, row.median)
                assert_close(rolled[severity].p90, row.p90)


def assert_close(estimate: timedelta, exact: timedelta) -> None:
    share, floor = rollups.PERCENTILE_PRECISION
    assert abs(estimate - exact) <= max(exact * share, floor), (estimate, exact)


@pytest.fixture
def organizations(db) -> list:
    return [OrganizationFactory() for _ in range(3)]


@on_postgresql
def test_roll_ups_equal_the_reference_through_every_kind_of_change(organizations):
    rng = random.Random(15)
    tickets = generate(rng, organizations, 400)
    rollups.refresh()
    assert DashboardDay.objects.filter(organization__isnull=True).exists()
    assert_equal_to_the_reference(organizations)

    by_status = {status: [t for t in tickets if t.status == status] for status in Status.values}
    # Reopen (the resolution time goes), resolve, close, close without resolving.
    reopened = by_status[Status.RESOLVED][0]
    reopened.status, reopened.resolved_at = Status.OPEN, None
    reopened.save()
    resolved = by_status[Status.OPEN][0]
    resolved.status, resolved.resolved_at = Status.RESOLVED, resolved.created_at + timedelta(days=3)
    resolved.save()
    closed = by_status[Status.RESOLVED][1]
    closed.status, closed.closed_at = Status.CLOSED, closed.resolved_at + timedelta(days=2)
    closed.save()
    never_resolved = by_status[Status.NEW][0]
    Ticket.objects.filter(pk=never_resolved.pk).update(
        status=Status.CLOSED, closed_at=never_resolved.created_at + timedelta(days=4)
    )
    # A severity and an organization change move a ticket (and its first response's day) elsewhere.
    answered = TicketClock.objects.filter(metric=FR, met_at__isnull=False).select_related("ticket")
    moved, switched = answered[0].ticket, answered[1].ticket
    moved.severity = Severity.S1 if moved.severity != Severity.S1 else Severity.S5
    moved.save()
    switched.organization = next(org for org in organizations if org.pk != switched.organization_id)
    switched.save()
    # A creation time, a channel (by raw SQL), a clock met late, one met, one gone, a ticket gone.
    shifted = tickets[5]
    shifted.created_at -= timedelta(days=9)
    shifted.save()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET channel = 'api' WHERE id = %s", [tickets[6].pk])
    running = TicketClock.objects.filter(met_at__isnull=True, breached_at__isnull=True).first()
    running.met_at, running.state = running.started_at + timedelta(hours=30), "met"
    running.save()
    on_time = TicketClock.objects.filter(metric=FR, met_at__isnull=False, breached_at__isnull=True).first()
    on_time.breached_at = on_time.met_at - timedelta(seconds=1)
    on_time.save(update_fields=["breached_at"])
    TicketClock.objects.filter(metric=RES).exclude(met_at=None).first().delete()
    Ticket.objects.get(pk=tickets[7].pk).delete()  # its clocks first, then the ticket

    assert DashboardStaleTicket.objects.exists()
    assert rollups.refresh() > 0
    assert not DashboardStaleTicket.objects.exists()
    assert_equal_to_the_reference(organizations)


@on_postgresql
def test_rebuild_gives_what_the_refreshes_gave(organizations):
    generate(random.Random(3), organizations, 150)
    rollups.refresh()

    def rows(model) -> list[tuple]:
        """Every row but its id; sums of seconds to the microsecond (added up in another order)."""
        columns = [field.attname for field in model._meta.fields if field.attname != "id"]
        rounded = (
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in model.objects.values_list(*columns)
        )
        return sorted(rounded, key=repr)

    refreshed = rows(DashboardDay), rows(DashboardResponseBucket)
    DashboardDay.objects.all().delete()
    out = io.StringIO()
    call_command("rebuild_dashboard", stdout=out)
    assert "Rebuilt the dashboard's roll-ups" in out.getvalue()
    assert (rows(DashboardDay), rows(DashboardResponseBucket)) == refreshed
    assert DashboardTicket.objects.count() == Ticket.objects.count()
    # Month rows are their days' sums.
    months = DashboardResponseBucket.objects.filter(span="month", organization__isnull=True)
    days = DashboardResponseBucket.objects.filter(span="day", organization__isnull=True)
    assert sum(months.values_list("count", flat=True)) == sum(days.values_list("count", flat=True)) > 0


def test_rebuild_on_sqlite_says_there_is_nothing_to_do(db):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite's answer")
    out = io.StringIO()
    call_command("rebuild_dashboard", stdout=out)
    assert "on SQLite the dashboard reads the tickets" in out.getvalue()
    assert rollups.available() is False


# --- what the triggers note ---------------------------------------------------------------------------


def stale() -> list[int]:
    return sorted(set(DashboardStaleTicket.objects.values_list("ticket_id", flat=True)))


@on_postgresql
def test_triggers_note_the_tickets_that_change(organization):
    requester = CustomerFactory(membership__organization=organization)
    created = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
    ticket = Ticket.objects.create(
        subject="x", description="x", requester=requester, organization=organization,
        created_at=created, updated_at=created, status=Status.RESOLVED,
        resolved_at=datetime(2025, 3, 5, 1, tzinfo=UTC),
    )  # fmt: skip
    other = Ticket.objects.create(
        subject="y", description="y", requester=requester, organization=organization,
        created_at=created, updated_at=created,
    )  # fmt: skip
    assert stale() == [ticket.pk, other.pk]
    rollups.refresh()
    first_response = TicketClock.objects.create(
        ticket=ticket, metric=FR, clock=Clock.ALWAYS, target_minutes=30, warn_at_percent=75,
        started_at=created, met_at=datetime(2025, 3, 4, 0, 10, tzinfo=UTC), state="met",
    )  # fmt: skip
    TicketClock.objects.create(
        ticket=other, metric=Metric.NEXT_UPDATE, clock=Clock.ALWAYS, target_minutes=30, warn_at_percent=75,
        started_at=created,
    )  # fmt: skip
    assert stale() == [ticket.pk]  # next_update is not on the dashboard
    rollups.refresh()
    assert stale() == []

    # What the dashboard does not count notes nothing, even through a save of every column.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tickets_ticket SET subject = 'y', updated_at = now() WHERE id = %s", [ticket.pk]
        )
        cursor.execute("UPDATE sla_ticketclock SET warned_at = now() WHERE id = %s", [first_response.pk])
    Ticket.objects.get(pk=ticket.pk).save()
    TicketClock.objects.get(pk=first_response.pk).save()
    assert stale() == []

    # A raw severity change, a clock met later, a reopening, a deletion: each is noted.
    for change in (
        lambda: connection.cursor().execute(
            "UPDATE tickets_ticket SET severity = 'S1' WHERE id = %s", [ticket.pk]
        ),
        lambda: TicketClock.objects.filter(pk=first_response.pk).update(met_at=created + timedelta(days=2)),
        lambda: Ticket.objects.filter(pk=ticket.pk).update(status=Status.OPEN, resolved_at=None),
        lambda: TicketClock.objects.filter(pk=first_response.pk).delete(),
    ):
        change()
        assert stale() == [ticket.pk]
        rollups.refresh()
    # A session loading in bulk (and rebuilding after) notes nothing.
    with connection.cursor() as cursor:
        cursor.execute("SET helpdesk.dashboard_sync = 'off'")
        try:
            cursor.execute("UPDATE tickets_ticket SET channel = 'api' WHERE id = %s", [ticket.pk])
        finally:
            cursor.execute("RESET helpdesk.dashboard_sync")
    assert stale() == []
    # The refresh counts what changed since, in every scope: here the ticket is an S1, open, now.
    counted = DashboardTicket.objects.get(ticket_id=ticket.pk)
    assert (counted.severity, counted.status, counted.first_response, counted.done_day) == (
        "S1",
        "open",
        None,
        None,
    )
    assert rollups.open_by_severity_status()["S1"]["open"] == 1
    assert rollups.open_by_severity_status(organization.pk)["S1"]["open"] == 1


@on_postgresql
def test_the_beat_task_refreshes_the_days_that_changed(organizations):
    from django_celery_beat.models import PeriodicTask

    from tickets.tasks import refresh_dashboard

    task = PeriodicTask.objects.get(name="Dashboard roll-ups")
    assert task.task == refresh_dashboard.name == "tickets.tasks.refresh_dashboard" and task.enabled
    assert (task.interval.every, task.interval.period) == (60, "seconds")

    generate(random.Random(5), organizations, 60)
    assert len(stale()) == 60
    assert refresh_dashboard() == 60
    assert stale() == [] and refresh_dashboard() == 0
    assert_equal_to_the_reference(organizations)


@on_postgresql
def test_the_page_refreshes_before_it_reads(client, agent, organizations):
    generate(random.Random(8), organizations, 80)
    client.force_login(agent)
    params = {"start": "2025-02-01", "end": "2025-04-30"}
    before = client.get(URL, params).context["chart_data"]
    assert stale() == []
    ticket = Ticket.objects.filter(status=Status.NEW).first()
    ticket.severity, ticket.status = Severity.S1, Status.OPEN
    ticket.save()
    assert stale()  # the beat task has not run
    after = client.get(URL, params).context["chart_data"]
    assert stale() == []
    assert sum(after["open"]["open"]) == sum(before["open"]["open"]) + 1
    assert after["open"]["open"][0] == before["open"]["open"][0] + 1
    period = dashboard.DateRange.from_days(date(2025, 2, 1), date(2025, 4, 30))
    assert after["backlog"]["values"] == [point.open for point in dashboard.backlog(period)]


# --- two refreshes at once ----------------------------------------------------------------------------


def _connect():
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_count_each_day_once():
    organizations = [OrganizationFactory() for _ in range(2)]
    generate(random.Random(11), organizations, 120)
    busy_day = Ticket.objects.order_by("pk").first().created_at
    first, second = _connect(), _connect()
    errors: list[BaseException] = []
    try:
        # The first refresh recomputes every day and holds on before it commits...
        assert first.execute("SELECT tickets_dashboard_refresh()").fetchone()[0] > 0
        # ...while a ticket is added on one of its days, and a second refresh starts.
        added = generate(random.Random(12), organizations, 1)[0]
        Ticket.objects.filter(pk=added.pk).update(created_at=busy_day)

        def refresh_again():
            try:
                second.execute("SELECT tickets_dashboard_refresh()")
                second.commit()
            except BaseException as error:  # noqa: BLE001 - reported by the test below
                errors.append(error)

        thread = threading.Thread(target=refresh_again)
        thread.start()
        deadline = time.monotonic() + 10
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cursor.fetchone()[0]:
                    break  # the second one waits for the first
                assert time.monotonic() < deadline, "the second refresh never waited"
                time.sleep(0.02)
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive() and errors == []
    finally:
        first.close()
        second.close()
    assert stale() == []
    assert_equal_to_the_reference(organizations)


# --- the percentiles' precision -----------------------------------------------------------------------


def test_the_roll_ups_need_whole_days():
    half_days = dashboard.DateRange(START + timedelta(hours=12), START + timedelta(days=2))
    with pytest.raises(ValueError, match="whole UTC days"):
        rollups.range_figures(half_days)
    with pytest.raises(ValueError, match="whole UTC days"):
        rollups.first_response_times(half_days)


def test_buckets_are_five_percent_wide():
    assert rollups.bucket_bounds(0) == (0.0, 1.0)
    for bucket in (1, 2, 50, 300):
        low, high = rollups.bucket_bounds(bucket)
        assert high == pytest.approx(low * 1.05)
        assert rollups.bucket_of(timedelta(seconds=(low + high) / 2)) == bucket
    assert rollups.bucket_of(timedelta(seconds=0.4)) == 0
    assert rollups.bucket_of(timedelta(seconds=1)) == 1


@on_postgresql
def test_the_sql_buckets_are_the_python_ones(db):
    durations = [0.0, 0.2, 0.999, 1.0, 1.5, 59.0, 61.0, 3600.0, 86400 * 3.3, 86400 * 400.0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tickets_dashboard_bucket(make_interval(secs => s)) FROM unnest(%s::float8[]) AS s",
            [durations],
        )
        in_sql = [bucket for (bucket,) in cursor.fetchall()]
    assert in_sql == [rollups.bucket_of(timedelta(seconds=s)) for s in durations]


@pytest.mark.parametrize("seed", range(30))
def test_estimated_percentiles_are_within_five_percent(seed):
    rng = random.Random(seed)
    size = rng.choice((1, 2, 3, 10, 100, 2000))
    spread = rng.choice((2, 60, 86400 * 10))
    durations = sorted(timedelta(seconds=rng.expovariate(1 / spread)) for _ in range(size))
    histogram: dict[int, list] = {}
    for duration in durations:
        counted = histogram.setdefault(rollups.bucket_of(duration), [0, 0.0])
        counted[0] += 1
        counted[1] += duration.total_seconds()
    pairs = [(bucket, n, seconds) for bucket, (n, seconds) in sorted(histogram.items())]
    for fraction in (0.5, 0.9, 0.0, 1.0, 0.25):
        assert_close(rollups.estimated_percentile(pairs, fraction), dashboard.percentile(durations, fraction))


def test_a_bucket_of_one_gives_its_duration_exactly():
    histogram = [(rollups.bucket_of(timedelta(minutes=m)), 1, m * 60.0) for m in (30, 60, 120)]
    assert rollups.estimated_percentile(histogram, 0.5) == timedelta(minutes=60)
    assert rollups.estimated_percentile(histogram, 0.9) == timedelta(minutes=108)
