"""How a clock looks to people: on track, at risk, breached, met or paused, and a countdown text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html

from sla.models import ClockState, Metric, TicketClock

LABELS = {
    "on_track": "On track",
    "at_risk": "At risk",
    "breached": "Breached",
    "met": "Met",
    "paused": "Paused",
}


def clock_status(clock: TicketClock, now: datetime) -> str:
    if clock.state == ClockState.BREACHED:
        return "breached"
    if clock.met_at is not None:
        return "met"
    if clock.paused_at is not None:
        return "paused"
    if clock.due_at is not None and clock.due_at <= now:
        return "breached"  # the sweep will record it within the minute
    if clock.at_risk_at is not None and clock.at_risk_at <= now:
        return "at_risk"
    return "on_track"


def nearest_running(clocks: Iterable[TicketClock]) -> TicketClock | None:
    running = [c for c in clocks if c.met_at is None and c.paused_at is None and c.due_at is not None]
    return min(running, key=lambda c: c.due_at, default=None)


def countdown_text(due_at: datetime, now: datetime) -> str:
    delta = due_at - now
    overdue = delta < timedelta(0)
    seconds = int(abs(delta.total_seconds()))
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes = seconds // 60
    text = f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"
    return f"overdue {text}" if overdue else f"{text} left"


def countdown_html(clock: TicketClock, now: datetime) -> str:
    """A coloured badge; for a running clock a live countdown (tickets/sla.js updates it each second)."""
    status = clock_status(clock, now)
    if clock.due_at is None or status in ("met", "paused"):
        return format_html('<span class="sla sla-{}">{}</span>', status, LABELS[status])
    return format_html(
        '<span class="sla sla-{}" title="{} due {}"><time class="sla-countdown" datetime="{}" '
        'data-warn="{}">{}</time></span>',
        status,
        # The enum's label, not get_metric_display(), which flattens the field's choices on each call (once
        # for each row of the ticket list).
        Metric(clock.metric).label,
        # In the zone of the request (an agent's, see tickets/admin/timezones.py), labelled.
        timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M %Z"),
        clock.due_at.isoformat(),
        clock.at_risk_at.isoformat() if clock.at_risk_at else "",
        countdown_text(clock.due_at, now),
    )


def ticket_sla_html(clocks: Iterable[TicketClock], now: datetime) -> str:
    """The list column: the nearest running clock, else the worst finished state."""
    clocks = list(clocks)
    running = nearest_running(clocks)
    if running is not None:
        return countdown_html(running, now)
    if not clocks:
        return "—"
    statuses = {clock_status(c, now) for c in clocks}
    for status in ("breached", "paused", "met"):
        if status in statuses:
            return format_html('<span class="sla sla-{}">{}</span>', status, LABELS[status])
    return "—"
