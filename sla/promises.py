"""What we promise a customer about their ticket, in their time zone: "We will respond by …"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sla.calendars import calendar_for, policy, response_target
from sla.models import ClockState, Metric, TicketClock


@dataclass(frozen=True)
class Promise:
    metric: str
    kind: str  # "due", "met", "paused", "overdue"
    text: str
    at: datetime | None


def local_format(instant: datetime, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A, %B} {local.day}, {local.year} at {hour}:{local:%M %p} ({tz.key.replace('_', ' ')})"


_PHRASES = {
    Metric.FIRST_RESPONSE: ("We will respond by {when}.", "We responded on {when}.", "our first response"),
    Metric.NEXT_UPDATE: ("Our next update is due by {when}.", "", "our next update"),
    Metric.RESOLUTION: (
        "We aim to have a fix or workaround by {when}.",
        "Resolved on {when}.",
        "a workaround",
    ),
}


def promises(clocks: list[TicketClock], tz: ZoneInfo, *, status: str = "") -> list[Promise]:
    """One line per clock, first response first. A resolved or closed ticket promises nothing more."""
    if status in ("resolved", "closed"):
        return [p for p in _lines(clocks, tz) if p.kind == "met" and p.metric == Metric.RESOLUTION]
    return _lines(clocks, tz)


def _lines(clocks: list[TicketClock], tz: ZoneInfo) -> list[Promise]:
    order = {Metric.FIRST_RESPONSE: 0, Metric.NEXT_UPDATE: 1, Metric.RESOLUTION: 2}
    lines = []
    for clock in sorted(clocks, key=lambda c: order[c.metric]):
        due_text, met_text, what = _PHRASES[clock.metric]
        if clock.met_at is not None:
            if met_text:
                lines.append(
                    Promise(
                        clock.metric,
                        "met",
                        met_text.format(when=local_format(clock.met_at, tz)),
                        clock.met_at,
                    )
                )
        elif clock.paused_at is not None:
            lines.append(
                Promise(
                    clock.metric, "paused", f"The clock for {what} is paused while we wait for you.", None
                )
            )
        elif clock.state == ClockState.BREACHED or clock.due_at is None:
            lines.append(
                Promise(clock.metric, "overdue", f"We are late with {what}; the team has been alerted.", None)
            )
        else:
            lines.append(
                Promise(
                    clock.metric, "due", due_text.format(when=local_format(clock.due_at, tz)), clock.due_at
                )
            )
    return lines


def first_response_promise(clocks: list[TicketClock], tz: ZoneInfo) -> Promise | None:
    return next((p for p in promises(clocks, tz) if p.metric == Metric.FIRST_RESPONSE), None)


def first_response_due(
    severity: str, *, at: datetime, policy_id: int | None = None, calendar_id: int | None = None
) -> datetime | None:
    """When a ticket of `severity` raised at `at` would be answered by: the first-response target of the
    policy's chart, counted on its clock (24/7, or the business calendar with its holidays). None when the
    chart sets no first-response target for that severity.

    `calendar_id`: the calendar to count on (a ticket's own); without one, the policy's."""
    row = response_target(severity, policy_id)
    target = row.target(Metric.FIRST_RESPONSE) if row is not None else None
    if target is None:
        return None
    duration, clock = target
    if calendar_id is None:
        calendar_id = policy(policy_id).calendar_id
    return calendar_for(clock, calendar_id).add(at, duration, [])


def answer_by_text(due: datetime | None, tz: ZoneInfo) -> str:
    """ "We'll answer by <weekday, date, time> (<time zone>)." as the chat panel says it."""
    if due is None:
        return "We'll answer as soon as we can."
    return f"We'll answer by {local_format(due, tz)}."
