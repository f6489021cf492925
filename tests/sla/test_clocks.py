"""The SLA clocks (sla/clocks.py) driven through the ticket services, at fixed instants.

Every expected due time is a literal computed by hand on the shipped chart and the default calendar
(Mon–Fri 09:00–18:00 America/Los_Angeles with US holidays). June 2026 is PDT (UTC−7); the week used most is
Mon 2026-06-08 … Fri 2026-06-12; Fri 2026-06-19 is Juneteenth.
"""

from __future__ import annotations

from datetime import datetime
from queue import Queue
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from kombu.transport.memory import Channel as MemoryChannel

from sla.models import ClockState, Escalation, Level, Metric, TicketClock
from tickets.models import Status, Ticket
from tickets.services import (
    ticket_add_note,
    ticket_change_severity,
    ticket_change_status,
    ticket_create,
    ticket_reply,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
FIRST, UPDATE, RESOLUTION = Metric.FIRST_RESPONSE, Metric.NEXT_UPDATE, Metric.RESOLUTION


def pt(month: int, day: int, hour: int, minute: int = 0, second: int = 0, *, year: int = 2026) -> datetime:
    """A wall time in America/Los_Angeles."""
    return datetime(year, month, day, hour, minute, second, tzinfo=LA)


def create(requester, severity: str, at: datetime) -> Ticket:
    return ticket_create(
        requester=requester, subject="Scheduling is broken", description="Details", severity=severity, at=at
    )


def agent_reply(ticket, agent, at: datetime) -> None:
    ticket_reply(ticket=ticket, author=agent, body="We are on it.", at=at)


def customer_reply(ticket, at: datetime) -> None:
    ticket_reply(ticket=ticket, author=ticket.requester, body="Any news?", at=at)


def set_status(ticket, actor, status: str, at: datetime) -> None:
    ticket_change_status(ticket=ticket, actor=actor, status=status, at=at)


def set_severity(ticket, agent, severity: str, at: datetime) -> None:
    ticket_change_severity(ticket=ticket, actor=agent, severity=severity, at=at)


def clocks(ticket) -> dict[str, TicketClock]:
    return {clock.metric: clock for clock in TicketClock.objects.filter(ticket=ticket)}


def due(ticket) -> dict[str, datetime | None]:
    return {metric: clock.due_at for metric, clock in clocks(ticket).items()}


def sla_due_at(ticket) -> datetime | None:
    return Ticket.objects.values_list("sla_due_at", flat=True).get(pk=ticket.pk)


def escalations(ticket) -> list[tuple[str, str, int]]:
    return sorted(Escalation.objects.filter(ticket=ticket).values_list("level", "metric", "cycle"))


# --- creation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        # Created Mon 2026-06-08 09:00 PT.
        ("S1", {FIRST: pt(6, 8, 9, 30), RESOLUTION: pt(6, 8, 18)}),  # 30 min 24x7; 540 business min
        ("S2", {FIRST: pt(6, 8, 13), RESOLUTION: pt(6, 10, 18)}),  # 240 min; 1620 = Mon–Wed
        # 540 = Mon; 5400 = ten business days: Jun 8–12, 15–18, (19 Juneteenth), 22
        ("S3", {FIRST: pt(6, 8, 18), RESOLUTION: pt(6, 22, 18)}),
        ("S4", {FIRST: pt(6, 10, 18)}),  # 1620 = Mon–Wed
        ("S5", {FIRST: pt(6, 12, 18)}),  # 2700 = Mon–Fri
    ],
)
def test_creation_starts_the_clocks_the_chart_defines(requester, severity, expected):
    created = pt(6, 8, 9)
    ticket = create(requester, severity, created)
    rows = clocks(ticket)
    assert {metric: clock.due_at for metric, clock in rows.items()} == expected  # no next_update yet
    for clock in rows.values():
        assert clock.state == ClockState.ACTIVE
        assert clock.started_at == created
        assert clock.cycle == 0
        assert clock.warn_at_percent == 75
        assert clock.paused_at is None and clock.pauses == []
        assert clock.met_at is None and clock.breached_at is None and clock.warned_at is None
    assert rows[FIRST].clock == ("24x7" if severity == "S1" else "business")
    assert sla_due_at(ticket) == min(expected.values())


def test_creation_records_the_warn_instant_at_75_percent(requester):
    ticket = create(requester, "S2", pt(6, 8, 9))
    rows = clocks(ticket)
    assert rows[FIRST].at_risk_at == pt(6, 8, 12)  # 75% of 240 = 180 business minutes
    assert rows[RESOLUTION].at_risk_at == pt(6, 10, 11, 15)  # 75% of 1620 = 1215 = Mon, Tue, Wed 2h15


def test_s1_on_a_saturday_night_counts_first_response_24x7_and_resolution_in_business_hours(requester):
    ticket = create(requester, "S1", pt(6, 6, 3))  # Sat 03:00 PT
    assert due(ticket) == {
        FIRST: pt(6, 6, 3, 30),  # 30 wall-clock minutes, the same Saturday night
        RESOLUTION: pt(6, 8, 18),  # 540 business minutes from Mon 09:00
    }
    assert sla_due_at(ticket) == pt(6, 6, 3, 30)


def test_s2_after_six_pm_counts_from_the_next_morning(requester):
    ticket = create(requester, "S2", pt(6, 8, 19))  # Mon 19:00 PT
    assert due(ticket) == {
        FIRST: pt(6, 9, 13),  # Tue 09:00 + 240
        RESOLUTION: pt(6, 11, 18),  # 1620 = Tue, Wed, Thu
    }


def test_s3_late_on_friday_finishes_on_monday(requester):
    ticket = create(requester, "S3", pt(6, 12, 17))  # Fri 17:00 PT
    assert due(ticket)[FIRST] == pt(6, 15, 17)  # 60 on Friday + 480 on Monday


@pytest.mark.parametrize("created", [pt(6, 8, 18), pt(6, 8, 8, 59, 59)])
def test_a_ticket_created_at_closing_time_or_before_opening_counts_from_the_next_opening(requester, created):
    ticket = create(requester, "S2", created)
    expected = pt(6, 9, 13) if created.hour == 18 else pt(6, 8, 13)  # the next 09:00 + 240
    assert due(ticket)[FIRST] == expected


def test_a_ticket_created_at_one_second_before_closing_time_counts_that_second(requester):
    ticket = create(requester, "S2", pt(6, 8, 17, 59, 59))  # 1 s on Monday, 239 min 59 s on Tuesday
    assert due(ticket)[FIRST] == pt(6, 9, 12, 59, 59)


def test_thanksgiving_and_the_day_after_do_not_count(requester):
    ticket = create(requester, "S2", pt(11, 25, 17))  # Wed 2026-11-25 17:00 PST
    # 60 on Wednesday; Thu 26 and Fri 27 are holidays; the weekend; 180 on Monday.
    assert due(ticket)[FIRST] == pt(11, 30, 12)


def test_business_minutes_across_the_spring_dst_change(requester):
    ticket = create(requester, "S2", pt(3, 6, 17))  # Fri 2026-03-06 17:00 PST; DST starts Sun Mar 8
    assert due(ticket)[FIRST] == pt(3, 9, 12)  # 60 on Friday + 180 on Monday, in PDT
    assert due(ticket)[FIRST].utcoffset().total_seconds() == 0  # stored in UTC
    assert due(ticket)[FIRST] == datetime.fromisoformat("2026-03-09T19:00:00+00:00")


def test_s1_24x7_across_the_fall_dst_change_counts_real_minutes(requester):
    # Sun 2026-11-01 01:50 PDT; at 02:00 PDT the clocks go back to 01:00 PST.
    created = datetime.fromisoformat("2026-11-01T01:50:00-07:00")
    ticket = create(requester, "S1", created)
    assert due(ticket)[FIRST] == datetime.fromisoformat("2026-11-01T01:20:00-08:00")  # 30 real minutes


# --- first response --------------------------------------------------------------------------------------


def test_first_response_is_met_by_the_first_public_agent_reply_only(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    ticket_add_note(ticket=ticket, author=agent, body="Looking at the logs.", at=pt(6, 8, 9, 10))
    customer_reply(ticket, pt(6, 8, 9, 20))
    first = clocks(ticket)[FIRST]
    assert (first.state, first.met_at, first.due_at) == (ClockState.ACTIVE, None, pt(6, 8, 13))
    assert UPDATE not in clocks(ticket)  # neither a note nor a customer starts the update cadence

    agent_reply(ticket, agent, pt(6, 8, 9, 30))
    first = clocks(ticket)[FIRST]
    assert (first.state, first.met_at) == (ClockState.MET, pt(6, 8, 9, 30))
    assert first.due_at == pt(6, 8, 13)  # the target it met
    assert first.at_risk_at is None

    agent_reply(ticket, agent, pt(6, 8, 10))  # later replies do not move it
    assert clocks(ticket)[FIRST].met_at == pt(6, 8, 9, 30)


def test_a_reply_after_the_due_time_is_a_breach_even_before_the_sweep_notices(requester, agent):
    ticket = create(requester, "S1", pt(6, 6, 3))  # due 03:30
    agent_reply(ticket, agent, pt(6, 6, 3, 40))  # no sweep ran in between
    first = clocks(ticket)[FIRST]
    assert (first.state, first.met_at, first.breached_at) == (
        ClockState.BREACHED,
        pt(6, 6, 3, 40),
        pt(6, 6, 3, 40),
    )
    assert escalations(ticket) == [("breach", FIRST, 0), ("page", FIRST, 0)]


def test_a_reply_exactly_at_the_due_time_is_late(requester, agent):
    # The due time is the instant the whole target has elapsed; the sweep breaches at due_at <= now too.
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 12, 59, 59))
    assert clocks(ticket)[FIRST].state == ClockState.MET
    other = create(requester, "S2", pt(6, 8, 9))
    agent_reply(other, agent, pt(6, 8, 13))
    assert clocks(other)[FIRST].state == ClockState.BREACHED


def test_first_response_pauses_while_resolved_and_resumes_on_reopen(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_status(ticket, requester, Status.RESOLVED, pt(6, 8, 10))  # the customer solved it alone
    rows = clocks(ticket)
    assert (rows[FIRST].state, rows[FIRST].paused_at, rows[FIRST].due_at) == (
        ClockState.PAUSED,
        pt(6, 8, 10),
        None,
    )
    assert (rows[RESOLUTION].state, rows[RESOLUTION].met_at) == (ClockState.MET, pt(6, 8, 10))
    assert sla_due_at(ticket) is None

    set_status(ticket, requester, Status.OPEN, pt(6, 9, 10))  # reopened a day later
    rows = clocks(ticket)
    assert rows[FIRST].state == ClockState.ACTIVE
    # 60 before the pause; the pause (Mon 10:00 – Tue 10:00) is 540; 480 more from Tue 10:00.
    assert rows[FIRST].due_at == pt(6, 9, 18)
    assert rows[FIRST].closed_pauses() == [(pt(6, 8, 10), pt(6, 9, 10))]
    assert rows[RESOLUTION].state == ClockState.ACTIVE
    assert rows[RESOLUTION].met_at is None
    assert rows[RESOLUTION].due_at == pt(6, 23, 18)  # Mon Jun 22 18:00 + one business day
    assert sla_due_at(ticket) == pt(6, 9, 18)


# --- next update -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "first_due", "second_due", "third_due"),
    [
        # Replies at Mon 10:00, Mon 12:00, Mon 15:00.
        ("S1", pt(6, 8, 14), pt(6, 8, 16), pt(6, 9, 10)),  # +240: 14:00; 16:00; 180 Mon + 60 Tue
        ("S2", pt(6, 9, 10), pt(6, 9, 12), pt(6, 9, 15)),  # +540: 480 Mon + 60 Tue; …; 180 Mon + 360 Tue
    ],
)
def test_each_agent_reply_starts_the_next_update_period(
    requester, agent, severity, first_due, second_due, third_due
):
    ticket = create(requester, severity, pt(6, 8, 9, 45))  # S1: first response due 10:15
    agent_reply(ticket, agent, pt(6, 8, 10))
    update = clocks(ticket)[UPDATE]
    assert (update.state, update.cycle, update.started_at, update.due_at) == (
        ClockState.ACTIVE,
        0,
        pt(6, 8, 10),
        first_due,
    )
    assert update.clock == "business"

    agent_reply(ticket, agent, pt(6, 8, 12))
    update = clocks(ticket)[UPDATE]
    assert (update.state, update.cycle, update.started_at, update.due_at) == (
        ClockState.ACTIVE,
        1,
        pt(6, 8, 12),
        second_due,
    )
    assert update.met_at is None  # the met period is over; this is the next one

    ticket_add_note(ticket=ticket, author=agent, body="internal", at=pt(6, 8, 13))
    customer_reply(ticket, pt(6, 8, 14))
    assert clocks(ticket)[UPDATE].cycle == 1  # only public agent replies count

    agent_reply(ticket, agent, pt(6, 8, 15))
    update = clocks(ticket)[UPDATE]
    assert (update.cycle, update.due_at) == (2, third_due)
    assert escalations(ticket) == ([("page", FIRST, 0)] if severity == "S1" else [])


@pytest.mark.parametrize("severity", ["S3", "S4", "S5"])
def test_severities_without_a_cadence_get_no_next_update_clock(requester, agent, severity):
    ticket = create(requester, severity, pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    agent_reply(ticket, agent, pt(6, 8, 11))
    assert UPDATE not in clocks(ticket)


def test_pending_pauses_next_update_and_resolution_and_reopen_excludes_the_pause(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    assert due(ticket) == {
        FIRST: pt(6, 8, 13),
        UPDATE: pt(6, 9, 10),  # 480 on Monday + 60 on Tuesday
        RESOLUTION: pt(6, 10, 18),
    }
    assert sla_due_at(ticket) == pt(6, 9, 10)  # first_response is met: the next update is nearest

    set_status(ticket, agent, Status.PENDING, pt(6, 8, 11))
    rows = clocks(ticket)
    for metric in (UPDATE, RESOLUTION):
        assert (rows[metric].state, rows[metric].paused_at) == (ClockState.PAUSED, pt(6, 8, 11))
        assert rows[metric].due_at is None and rows[metric].at_risk_at is None
    assert rows[FIRST].state == ClockState.MET
    assert sla_due_at(ticket) is None

    customer_reply(ticket, pt(6, 8, 15))  # reopens: 240 business minutes were paused
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    rows = clocks(ticket)
    for metric in (UPDATE, RESOLUTION):
        assert rows[metric].state == ClockState.ACTIVE
        assert rows[metric].paused_at is None
        assert rows[metric].closed_pauses() == [(pt(6, 8, 11), pt(6, 8, 15))]
    # next_update: 60 before the pause, 180 more on Monday, 300 on Tuesday.
    assert rows[UPDATE].due_at == pt(6, 9, 14)
    # resolution: 120 before the pause, 180 Mon, 540 Tue, 540 Wed, 240 Thu.
    assert rows[RESOLUTION].due_at == pt(6, 11, 13)
    assert rows[UPDATE].cycle == 0  # a customer reply does not start a new period
    assert sla_due_at(ticket) == pt(6, 9, 14)


def test_an_agent_reply_while_pending_starts_a_paused_period(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.PENDING, pt(6, 8, 11))
    agent_reply(ticket, agent, pt(6, 8, 12))  # a reminder to the customer; still pending
    update = clocks(ticket)[UPDATE]
    assert (update.cycle, update.state, update.started_at, update.paused_at, update.due_at) == (
        1,
        ClockState.PAUSED,
        pt(6, 8, 12),
        pt(6, 8, 12),
        None,
    )
    customer_reply(ticket, pt(6, 9, 9))  # Tue 09:00: the night did not count either
    assert clocks(ticket)[UPDATE].due_at == pt(6, 9, 18)  # a full business day from Tue 09:00


# --- resolution ------------------------------------------------------------------------------------------


def test_resolution_is_met_when_resolved_and_a_reopen_resumes_it_without_the_resolved_time(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.RESOLVED, pt(6, 8, 12))
    rows = clocks(ticket)
    assert (rows[RESOLUTION].state, rows[RESOLUTION].met_at) == (ClockState.MET, pt(6, 8, 12))
    assert rows[RESOLUTION].due_at == pt(6, 10, 18)
    assert (rows[UPDATE].state, rows[UPDATE].due_at) == (ClockState.PAUSED, None)  # not while resolved
    assert sla_due_at(ticket) is None

    customer_reply(ticket, pt(6, 9, 12))  # the workaround did not work: reopened a day later
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    rows = clocks(ticket)
    resolution = rows[RESOLUTION]
    assert (resolution.state, resolution.met_at, resolution.paused_at) == (ClockState.ACTIVE, None, None)
    assert resolution.closed_pauses() == [(pt(6, 8, 12), pt(6, 9, 12))]
    # 180 before resolving, 540 resolved (not counted); 360 Tue, 540 Wed, 540 Thu.
    assert resolution.due_at == pt(6, 11, 18)
    # next_update: 120 before resolving; 360 Tue, 60 Wed.
    assert (rows[UPDATE].state, rows[UPDATE].due_at) == (ClockState.ACTIVE, pt(6, 10, 10))
    assert rows[FIRST].state == ClockState.MET
    assert sla_due_at(ticket) == pt(6, 10, 10)


def test_resolution_while_pending_closes_the_pause_and_meets_it(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.PENDING, pt(6, 8, 11))
    set_status(ticket, agent, Status.RESOLVED, pt(6, 8, 15))
    resolution = clocks(ticket)[RESOLUTION]
    assert (resolution.state, resolution.met_at, resolution.paused_at) == (ClockState.MET, pt(6, 8, 15), None)
    assert resolution.closed_pauses() == [(pt(6, 8, 11), pt(6, 8, 15))]

    customer_reply(ticket, pt(6, 9, 9))  # Tue 09:00
    resolution = clocks(ticket)[RESOLUTION]
    # Counted: 120 (Mon 09–11) only; 1500 more from Tue 09:00 = Tue, Wed, 420 on Thu.
    assert (resolution.state, resolution.due_at) == (ClockState.ACTIVE, pt(6, 11, 16))


def test_a_resolved_ticket_moved_to_pending_stays_paused_and_resumes_when_reopened(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.RESOLVED, pt(6, 8, 12))
    set_status(ticket, agent, Status.PENDING, pt(6, 9, 12))  # not resolved after all: ask the customer
    resolution = clocks(ticket)[RESOLUTION]
    assert (resolution.state, resolution.met_at, resolution.due_at) == (ClockState.PAUSED, None, None)
    assert sla_due_at(ticket) is None

    customer_reply(ticket, pt(6, 10, 12))  # Wed 12:00: open again
    resolution = clocks(ticket)[RESOLUTION]
    assert resolution.state == ClockState.ACTIVE
    # Paused Mon 12:00 – Wed 12:00 (resolved, then pending): 180 before; 360 Wed, 540 Thu, 540 Fri.
    assert resolution.due_at == pt(6, 12, 18)
    # next_update, paused over the same span: 120 before; 360 Wed, 60 Thu.
    assert sla_due_at(ticket) == clocks(ticket)[UPDATE].due_at == pt(6, 11, 10)


def test_closing_a_resolved_ticket_keeps_the_clocks_stopped(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.RESOLVED, pt(6, 8, 12))
    set_status(ticket, agent, Status.CLOSED, pt(6, 15, 12))
    rows = clocks(ticket)
    assert {metric: clock.state for metric, clock in rows.items()} == {
        FIRST: ClockState.MET,
        UPDATE: ClockState.PAUSED,
        RESOLUTION: ClockState.MET,
    }
    assert sla_due_at(ticket) is None


# --- severity changes ------------------------------------------------------------------------------------


def test_raising_s3_to_s2_retargets_from_creation_keeping_elapsed_time(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_severity(ticket, agent, "S2", pt(6, 8, 11))
    rows = clocks(ticket)
    assert (rows[FIRST].state, rows[FIRST].due_at, rows[FIRST].target_minutes) == (
        ClockState.ACTIVE,
        pt(6, 8, 13),  # 240 from Mon 09:00
        240,
    )
    assert rows[FIRST].at_risk_at == pt(6, 8, 12)
    assert (rows[RESOLUTION].due_at, rows[RESOLUTION].target_minutes) == (pt(6, 10, 18), 1620)
    assert UPDATE not in rows  # the cadence starts with the first agent reply
    assert sla_due_at(ticket) == pt(6, 8, 13)
    assert escalations(ticket) == []


def test_raising_past_the_new_due_time_breaches_at_once(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_severity(ticket, agent, "S2", pt(6, 8, 14))  # the S2 first response was due at 13:00
    first = clocks(ticket)[FIRST]
    assert (first.state, first.breached_at, first.due_at) == (ClockState.BREACHED, pt(6, 8, 14), pt(6, 8, 13))
    breach = Escalation.objects.get(ticket=ticket, level=Level.BREACH)
    assert (breach.metric, breach.cycle, breach.severity, breach.created_at) == (FIRST, 0, "S2", pt(6, 8, 14))
    assert clocks(ticket)[RESOLUTION].state == ClockState.ACTIVE
    assert sla_due_at(ticket) == pt(6, 8, 13)  # still the most urgent: breached and unanswered

    agent_reply(ticket, agent, pt(6, 8, 15))  # answered late: it stays breached
    first = clocks(ticket)[FIRST]
    assert (first.state, first.met_at, first.breached_at) == (ClockState.BREACHED, pt(6, 8, 15), pt(6, 8, 14))


def test_lowering_s2_to_s4_drops_the_metrics_s4_has_no_target_for(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    assert set(clocks(ticket)) == {FIRST, UPDATE, RESOLUTION}
    set_severity(ticket, agent, "S4", pt(6, 8, 11))
    rows = clocks(ticket)
    assert set(rows) == {FIRST}
    assert (rows[FIRST].state, rows[FIRST].target_minutes, rows[FIRST].met_at) == (
        ClockState.MET,
        1620,
        pt(6, 8, 10),
    )
    assert sla_due_at(ticket) is None


def test_lowering_an_unanswered_ticket_moves_its_due_time_later(requester, agent):
    ticket = create(requester, "S2", pt(6, 8, 9))
    set_severity(ticket, agent, "S4", pt(6, 8, 11))
    assert due(ticket) == {FIRST: pt(6, 10, 18)}  # 1620 from Mon 09:00
    assert sla_due_at(ticket) == pt(6, 10, 18)


def test_raising_s4_to_s2_starts_resolution_from_creation(requester, agent):
    ticket = create(requester, "S4", pt(6, 8, 9))
    set_severity(ticket, agent, "S2", pt(6, 8, 10))
    rows = clocks(ticket)
    assert set(rows) == {FIRST, RESOLUTION}
    assert (rows[RESOLUTION].state, rows[RESOLUTION].started_at, rows[RESOLUTION].due_at) == (
        ClockState.ACTIVE,
        pt(6, 8, 9),
        pt(6, 10, 18),  # 1620 from Mon 09:00
    )
    assert rows[FIRST].due_at == pt(6, 8, 13)


def test_raising_s4_to_s2_after_agent_replies_starts_next_update_at_the_last_reply(requester, agent):
    ticket = create(requester, "S4", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    agent_reply(ticket, agent, pt(6, 8, 11))
    set_severity(ticket, agent, "S2", pt(6, 8, 12))
    update = clocks(ticket)[UPDATE]
    assert (update.state, update.started_at, update.due_at) == (ClockState.ACTIVE, pt(6, 8, 11), pt(6, 9, 11))


def test_raising_s4_to_s2_leaves_out_the_time_the_ticket_was_pending(requester, agent):
    ticket = create(requester, "S4", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 9, 30))
    set_status(ticket, agent, Status.PENDING, pt(6, 8, 10))
    customer_reply(ticket, pt(6, 9, 10))  # pending Mon 10:00 – Tue 10:00: 540 business minutes
    set_severity(ticket, agent, "S2", pt(6, 9, 11))
    rows = clocks(ticket)
    # next_update from the last agent reply: 30 on Monday, then 480 on Tuesday from 10:00, 30 on Wednesday.
    assert (rows[UPDATE].state, rows[UPDATE].due_at) == (ClockState.ACTIVE, pt(6, 10, 9, 30))
    assert rows[UPDATE].closed_pauses() == [(pt(6, 8, 10), pt(6, 9, 10))]
    # resolution from creation: 1620 + the 540 paused = Mon–Thu.
    assert (rows[RESOLUTION].state, rows[RESOLUTION].due_at) == (ClockState.ACTIVE, pt(6, 11, 18))
    assert escalations(ticket) == []


def test_raising_a_resolved_ticket_records_the_new_resolution_as_met_when_resolved(requester, agent):
    ticket = create(requester, "S4", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.RESOLVED, pt(6, 8, 11))
    # Re-graded on Thursday, after the S2 resolution target (Wed 18:00) would have passed.
    set_severity(ticket, agent, "S2", pt(6, 11, 10))
    resolution = clocks(ticket)[RESOLUTION]
    assert (resolution.state, resolution.met_at, resolution.breached_at) == (
        ClockState.MET,
        pt(6, 8, 11),  # resolved within the target
        None,
    )
    assert escalations(ticket) == []


def test_raising_to_s1_pages_once_even_when_raised_again(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_severity(ticket, agent, "S1", pt(6, 8, 9, 10))
    page = Escalation.objects.get(ticket=ticket, level=Level.PAGE)
    assert (page.metric, page.severity, page.created_at) == (FIRST, "S1", pt(6, 8, 9, 10))
    first = clocks(ticket)[FIRST]
    assert (first.clock, first.target_minutes, first.due_at) == ("24x7", 30, pt(6, 8, 9, 30))

    set_severity(ticket, agent, "S3", pt(6, 8, 9, 15))
    set_severity(ticket, agent, "S1", pt(6, 8, 9, 20))
    assert Escalation.objects.filter(ticket=ticket, level=Level.PAGE).count() == 1
    assert escalations(ticket) == [("page", FIRST, 0)]


def test_raising_to_s1_after_30_minutes_pages_and_breaches_at_once(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_severity(ticket, agent, "S1", pt(6, 8, 10))  # 30 min 24x7 from 09:00: due 09:30
    assert escalations(ticket) == [("breach", FIRST, 0), ("page", FIRST, 0)]
    assert clocks(ticket)[FIRST].breached_at == pt(6, 8, 10)


def test_a_severity_change_while_pending_keeps_the_clock_paused(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    agent_reply(ticket, agent, pt(6, 8, 10))
    set_status(ticket, agent, Status.PENDING, pt(6, 8, 11))
    set_severity(ticket, agent, "S2", pt(6, 9, 11))
    rows = clocks(ticket)
    assert (rows[RESOLUTION].state, rows[RESOLUTION].due_at) == (ClockState.PAUSED, None)
    assert rows[RESOLUTION].target_minutes == 1620
    # S2 has a cadence: it counts from the last agent reply, paused like the ticket.
    assert (rows[UPDATE].state, rows[UPDATE].started_at, rows[UPDATE].due_at) == (
        ClockState.PAUSED,
        pt(6, 8, 10),
        None,
    )
    customer_reply(ticket, pt(6, 9, 12))
    rows = clocks(ticket)
    # resolution: 120 counted before the pause (Mon 09–11); 1500 more from Tue 12:00: 360 Tue, 540 Wed,
    # 540 Thu, 60 Fri.
    assert (rows[RESOLUTION].state, rows[RESOLUTION].due_at) == (ClockState.ACTIVE, pt(6, 12, 10))


def test_a_clock_breached_while_paused_shows_its_due_time_when_it_runs_again(requester, agent):
    ticket = create(requester, "S3", pt(6, 8, 9))
    set_status(ticket, requester, Status.RESOLVED, pt(6, 8, 14))  # first response paused after 300
    set_severity(ticket, agent, "S2", pt(6, 8, 15))  # 300 > 240: breached at once, though paused
    first = clocks(ticket)[FIRST]
    assert (first.state, first.breached_at, first.due_at) == (ClockState.BREACHED, pt(6, 8, 15), None)
    assert escalations(ticket) == [("breach", FIRST, 0)]

    set_status(ticket, requester, Status.OPEN, pt(6, 9, 10))  # still unanswered
    first = clocks(ticket)[FIRST]
    assert first.state == ClockState.BREACHED
    assert first.due_at == pt(6, 8, 13)  # 240 from Mon 09:00, before the pause
    assert sla_due_at(ticket) == pt(6, 8, 13)  # the overdue answer comes first in the queue
    assert escalations(ticket) == [("breach", FIRST, 0)]


# --- the S1 page -----------------------------------------------------------------------------------------


def test_s1_creation_pages_once_in_the_same_transaction(requester):
    with pytest.raises(RuntimeError), transaction.atomic():
        ticket = create(requester, "S1", pt(6, 6, 3))
        assert escalations(ticket) == [("page", FIRST, 0)]
        raise RuntimeError("roll the creation back")
    assert not Escalation.objects.exists()  # recorded with the ticket, rolled back with it

    ticket = create(requester, "S1", pt(6, 6, 3))
    page = Escalation.objects.get(ticket=ticket)
    assert (page.level, page.metric, page.cycle, page.severity) == (Level.PAGE, FIRST, 0, "S1")
    assert page.created_at == ticket.created_at == pt(6, 6, 3)
    assert page.enqueued_at is None and page.completed_at is None  # handed to Celery only on commit


def test_s1_page_is_enqueued_on_commit(requester, django_capture_on_commit_callbacks):
    # the in-memory broker (tests/conftest.py); escalations are routed to a queue of their own
    queue = MemoryChannel.queues.setdefault(settings.CELERY_ESCALATION_QUEUE, Queue())
    queue.queue.clear()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = create(requester, "S1", pt(6, 6, 3))
    page = Escalation.objects.get(ticket=ticket)
    assert page.enqueued_at is not None
    published = [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in list(queue.queue)]
    queue.queue.clear()
    assert ("sla.tasks.deliver_escalation", f"({page.pk},)") in published


@pytest.mark.parametrize("severity", ["S2", "S3", "S4", "S5"])
def test_other_severities_do_not_page(requester, severity):
    ticket = create(requester, severity, pt(6, 6, 3))
    assert escalations(ticket) == []
