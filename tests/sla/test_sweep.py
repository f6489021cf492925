"""The SLA sweep (sla/sweep.py): breaches, at-risk warnings, lost S1 pages and lost deliveries, with a
fixed number of queries and no duplicates however often or concurrently it runs.

Times are America/Los_Angeles wall times in June 2026 (PDT); the expected instants come from the shipped
chart (S2 first response: 240 business minutes, warned at 75% = 180).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from queue import Queue
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from kombu.transport.memory import Channel as MemoryChannel

from sla import tasks
from sla.models import ClockState, Escalation, Level, Metric, TicketClock
from sla.sweep import sweep
from tickets.models import Status, Ticket
from tickets.services import ticket_change_status, ticket_create, ticket_reply

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
FIRST, UPDATE, RESOLUTION = Metric.FIRST_RESPONSE, Metric.NEXT_UPDATE, Metric.RESOLUTION
QUEUE = settings.CELERY_ESCALATION_QUEUE  # escalations are routed to a queue of their own


def pt(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=LA)


def create(requester, severity: str, at: datetime):
    return ticket_create(
        requester=requester, subject="Broken", description="Details", severity=severity, at=at
    )


def clock(ticket, metric: str) -> TicketClock:
    return TicketClock.objects.get(ticket=ticket, metric=metric)


def escalations(ticket=None) -> list[tuple[str, str, int]]:
    rows = Escalation.objects.all() if ticket is None else Escalation.objects.filter(ticket=ticket)
    return sorted(rows.values_list("level", "metric", "cycle"))


@pytest.fixture
def broker():
    """The in-memory broker's queue (tests/conftest.py sets memory://), emptied before and after; call it
    for the (task name, args) published since."""
    MemoryChannel.queues.setdefault(QUEUE, Queue()).queue.clear()

    def published() -> list[tuple[str, str]]:
        messages = list(MemoryChannel.queues[QUEUE].queue)
        return [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages]

    yield published
    MemoryChannel.queues[QUEUE].queue.clear()


# --- breaches ------------------------------------------------------------------------------------------


def test_a_sweep_past_the_due_time_breaches_the_clock_and_escalates_once(requester):
    ticket = create(requester, "S2", pt(6, 8, 9))  # first response warned at 12:00, due 13:00
    assert sweep(pt(6, 8, 12, 59, 59)).breached == 0
    assert clock(ticket, FIRST).state == ClockState.ACTIVE

    now = pt(6, 8, 13, 0, 30)
    result = sweep(now)
    assert (result.breached, result.pages) == (1, 0)
    first = clock(ticket, FIRST)
    assert (first.state, first.breached_at, first.met_at) == (ClockState.BREACHED, now, None)
    breach = Escalation.objects.get(ticket=ticket, level=Level.BREACH)
    assert (breach.metric, breach.cycle, breach.severity, breach.created_at) == (FIRST, 0, "S2", now)
    # handed to Celery by this very sweep, not a minute later
    assert (breach.enqueued_at, breach.completed_at) == (now, None)
    assert clock(ticket, RESOLUTION).state == ClockState.ACTIVE  # due on Wednesday

    later = now + timedelta(minutes=1)
    assert sweep(later).breached == 0
    assert clock(ticket, FIRST).breached_at == now  # not moved by a later sweep
    assert escalations(ticket) == [("at_risk", FIRST, 0), ("breach", FIRST, 0)]


def test_a_breach_exactly_at_the_due_time(requester):
    ticket = create(requester, "S2", pt(6, 8, 9))
    sweep(pt(6, 8, 13))
    assert clock(ticket, FIRST).state == ClockState.BREACHED
    assert escalations(ticket) == [("breach", FIRST, 0)]


def test_two_sweeps_at_the_same_instant_insert_no_duplicates(requester):
    tickets = [create(requester, "S2", pt(6, 8, 9)) for _ in range(3)]
    now = pt(6, 8, 13, 1)
    first_run, second_run = sweep(now), sweep(now)
    assert (first_run.breached, second_run.breached) == (3, 0)
    assert Escalation.objects.filter(level=Level.BREACH).count() == 3
    for ticket in tickets:
        assert escalations(ticket) == [("breach", FIRST, 0)]


def test_each_update_period_can_breach_once(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    ticket_reply(ticket=ticket, author=agent, body="Looking", at=pt(6, 8, 10))  # next update due Tue 10:00
    sweep(pt(6, 9, 10, 1))
    assert (clock(ticket, UPDATE).state, clock(ticket, UPDATE).cycle) == (ClockState.BREACHED, 0)
    ticket_reply(ticket=ticket, author=agent, body="Still on it", at=pt(6, 9, 11))  # next: Wed 11:00
    assert (clock(ticket, UPDATE).state, clock(ticket, UPDATE).cycle) == (ClockState.ACTIVE, 1)
    sweep(pt(6, 10, 11, 1))
    sweep(pt(6, 10, 11, 2))
    breaches = sorted(
        Escalation.objects.filter(ticket=ticket, level=Level.BREACH).values_list("metric", "cycle")
    )
    assert breaches == [(UPDATE, 0), (UPDATE, 1)]


def test_paused_and_met_clocks_are_never_breached(requester, agent):
    pending = create(requester, "S2", pt(6, 8, 9))
    ticket_reply(ticket=pending, author=agent, body="Please send the logs", at=pt(6, 8, 10))
    ticket_change_status(ticket=pending, actor=agent, status=Status.PENDING, at=pt(6, 8, 11))
    resolved = create(requester, "S3", pt(6, 8, 9))
    ticket_reply(ticket=resolved, author=agent, body="Fixed", at=pt(6, 8, 10))
    ticket_change_status(ticket=resolved, actor=agent, status=Status.RESOLVED, at=pt(6, 8, 11))

    result = sweep(pt(6, 30, 12))  # weeks later
    assert (result.breached, result.at_risk) == (0, 0)
    states = {
        (c.ticket_id, c.metric): c.state for c in TicketClock.objects.filter(ticket__in=[pending, resolved])
    }
    assert states == {
        (pending.pk, FIRST): ClockState.MET,
        (pending.pk, UPDATE): ClockState.PAUSED,
        (pending.pk, RESOLUTION): ClockState.PAUSED,
        (resolved.pk, FIRST): ClockState.MET,
        (resolved.pk, RESOLUTION): ClockState.MET,
    }
    assert escalations() == []


# --- at risk ---------------------------------------------------------------------------------------------


def test_at_risk_fires_once_at_75_percent(requester):
    ticket = create(requester, "S2", pt(6, 8, 9))  # first response: warn at 12:00, due at 13:00
    assert sweep(pt(6, 8, 11, 59)).at_risk == 0
    now = pt(6, 8, 12, 0, 20)
    assert sweep(now).at_risk == 1
    first = clock(ticket, FIRST)
    assert (first.state, first.warned_at) == (ClockState.ACTIVE, now)
    warning = Escalation.objects.get(ticket=ticket, level=Level.AT_RISK)
    assert (warning.metric, warning.cycle, warning.created_at) == (FIRST, 0, now)

    assert sweep(pt(6, 8, 12, 30)).at_risk == 0
    assert sweep(pt(6, 8, 12, 30)).at_risk == 0
    assert clock(ticket, FIRST).warned_at == now
    assert escalations(ticket) == [("at_risk", FIRST, 0)]

    sweep(pt(6, 8, 13, 0, 20))  # then it breaches
    assert escalations(ticket) == [("at_risk", FIRST, 0), ("breach", FIRST, 0)]


def test_a_paused_clock_is_not_warned(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    ticket_reply(ticket=ticket, author=agent, body="Please send the logs", at=pt(6, 8, 9, 5))
    ticket_change_status(ticket=ticket, actor=agent, status=Status.PENDING, at=pt(6, 8, 9, 10))
    sweep(pt(6, 12, 12))
    assert escalations(ticket) == []
    assert TicketClock.objects.filter(ticket=ticket, warned_at__isnull=False).count() == 0


# --- lost S1 pages ---------------------------------------------------------------------------------------


def test_an_open_s1_ticket_without_its_page_gets_one_from_the_sweep(requester, agent):
    ticket = create(requester, "S1", pt(6, 6, 3))
    Escalation.objects.filter(ticket=ticket, level=Level.PAGE).delete()  # lost (an import, a raw update)
    resolved = create(requester, "S1", pt(6, 6, 3))
    ticket_reply(ticket=resolved, author=agent, body="Done", at=pt(6, 6, 3, 10))
    ticket_change_status(ticket=resolved, actor=agent, status=Status.RESOLVED, at=pt(6, 6, 3, 20))
    Escalation.objects.filter(ticket=resolved).delete()

    now = pt(6, 6, 3, 5)
    assert sweep(now).pages == 1
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    assert (page.metric, page.cycle, page.severity, page.created_at) == (FIRST, 0, "S1", now)
    assert not Escalation.objects.filter(ticket=resolved).exists()  # not open any more

    assert sweep(now).pages == 0
    assert sweep(now + timedelta(minutes=1)).pages == 0
    assert Escalation.objects.filter(level=Level.PAGE).count() == 1


# --- lost deliveries -------------------------------------------------------------------------------------


def test_escalations_never_enqueued_are_enqueued_by_the_sweep(requester, broker):
    ticket = create(requester, "S1", pt(6, 6, 3))  # the page's on-commit enqueue never ran
    page = Escalation.objects.get(ticket=ticket)
    assert page.enqueued_at is None

    assert sweep(pt(6, 6, 3, 0, 4)).reenqueued == 0  # under 5 s old: its own on-commit task may be on its way
    assert broker() == []

    now = pt(6, 6, 3, 0, 6)
    assert sweep(now).reenqueued == 1
    page.refresh_from_db()
    assert page.enqueued_at == now
    assert broker() == [("sla.tasks.deliver_escalation", f"({page.pk},)")]

    assert sweep(now + timedelta(minutes=1)).reenqueued == 0  # handed over a minute ago: give it time
    assert sweep(now + timedelta(minutes=11)).reenqueued == 1  # still not done after 10 minutes: again
    page.refresh_from_db()
    assert page.enqueued_at == now + timedelta(minutes=11)


def test_completed_escalations_are_not_enqueued_again(requester, broker):
    ticket = create(requester, "S1", pt(6, 6, 3))
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    Escalation.objects.filter(pk=page.pk).update(completed_at=pt(6, 6, 3, 0, 1))
    sweep(pt(6, 6, 4))  # also breaches the first response (due 03:30): that escalation is new
    breach = Escalation.objects.get(ticket=ticket, level=Level.BREACH)
    assert broker() == [("sla.tasks.deliver_escalation", f"({breach.pk},)")]


def test_escalations_the_sweep_inserts_are_enqueued_at_once_and_not_again(requester, broker):
    ticket = create(requester, "S2", pt(6, 8, 9))
    sweep(pt(6, 8, 13, 0, 30))
    breach = Escalation.objects.get(ticket=ticket, level=Level.BREACH)
    assert breach.enqueued_at == pt(6, 8, 13, 0, 30)
    sweep(pt(6, 8, 13, 1, 30))
    breach.refresh_from_db()
    assert breach.enqueued_at == pt(6, 8, 13, 0, 30)
    assert broker() == [("sla.tasks.deliver_escalation", f"({breach.pk},)")]


# --- a fixed number of queries -----------------------------------------------------------------------------


def _sweep_queries(requester, agent, count: int) -> tuple[int, int]:
    """Sweep `count` S1 and `count` S2 tickets twice; the number of queries of each sweep."""
    Ticket.objects.all().delete()
    for _ in range(count):
        create(requester, "S1", pt(6, 8, 9))  # paged; first response due 09:30, resolution warned 15:45
        ticket = create(requester, "S2", pt(6, 8, 9))
        ticket_reply(ticket=ticket, author=agent, body="On it", at=pt(6, 8, 9, 30))  # update warned 16:15
    with CaptureQueriesContext(connection) as first:
        result = sweep(pt(6, 8, 16, 30))
    # S1 first responses breached; S1 resolutions and S2 updates at risk: all enqueued at once, with the
    # pages that were never enqueued.
    expected = (count, 2 * count, 0, 4 * count)
    assert (result.breached, result.at_risk, result.pages, result.reenqueued) == expected
    with CaptureQueriesContext(connection) as second:
        result = sweep(pt(6, 8, 16, 31))
    assert (result.breached, result.at_risk, result.reenqueued) == (0, 0, 0)  # all enqueued a minute ago
    return len(first), len(second)


def test_the_sweep_runs_the_same_queries_for_10_or_100_open_tickets(requester, agent, broker):
    few = _sweep_queries(requester, agent, 10)
    many = _sweep_queries(requester, agent, 100)
    assert few == many
    assert len(broker()) == 4 * 110


def test_the_celery_task_sweeps_now(requester):
    create(requester, "S2", datetime(2020, 1, 6, 9, tzinfo=LA))  # long overdue
    result = tasks.sweep()
    assert result == {"breached": 2, "at_risk": 0, "pages": 0, "reenqueued": 2}


# --- really concurrent sweeps (PostgreSQL: two connections) ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_two_sweeps_in_parallel_transactions_fire_each_breach_once(requester):
    if connection.vendor != "postgresql":
        pytest.skip("two writing transactions at once need PostgreSQL (set DATABASE_URL)")
    tickets = [create(requester, "S2", pt(6, 8, 9)) for _ in range(20)]  # due 13:00, warned 12:00
    now = pt(6, 8, 13, 1)
    start = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            start.wait(timeout=10)
            results.append(sweep(now))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(result.breached for result in results) == 20  # each clock breached by one of them
    assert Escalation.objects.filter(level=Level.BREACH).count() == 20
    assert TicketClock.objects.filter(ticket__in=tickets, metric=FIRST, breached_at=now).count() == 20
