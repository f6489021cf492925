"""The SLA dashboard's figures from daily roll-ups (PostgreSQL): the same figures as `tickets.dashboard`
computes from the tickets, read from a few thousand rows for a year whatever the number of tickets.

How the roll-ups stay current (migration 0028 holds the SQL; the tables are in tickets/models/rollups.py):
- Triggers on tickets (creation, severity, channel, organization, status, resolution and close times)
  and on their first-response and resolution clocks (met, breached, started) note the ticket's id in
  `DashboardStaleTicket`, in the writer's own transaction. Nothing else: no lock, no wait, no lookup.
- `tickets_dashboardticket` holds what each ticket counts for in the roll-ups. A refresh takes that away
  for the tickets noted, adds what they count for now (read once, from committed rows), adds the moves
  up into the day rows (`INSERT … ON CONFLICT DO UPDATE`) and drops the rows left at zero. Its cost is
  the number of tickets changed, not the days they touch: a reopened ticket from March moves a few rows,
  it does not recount March. Beat runs it every minute (`tickets.tasks.refresh_dashboard`), and the
  dashboard runs it before it reads, so the page is exact rather than a minute late. One refresher at
  a time (an advisory lock), so two at once cannot count a change twice.
- `manage.py rebuild_dashboard` recomputes everything in one set-based pass (the migration and the
  benchmark seeder, which loads with the triggers off, do the same).

The figures keep the reference's conventions (a ticket's current severity, UTC days and ISO weeks, "done"
= resolved or closed) and equal it, except the first-response median and 90th percentile: those come
from a histogram with buckets 5 % wide and are within 5 % of the exact value (or one second, for
responses under a second; see `estimated_percentile`). The backlog, like the reference's PostgreSQL
query, takes a ticket to be done after it was created.

On SQLite (the embedded mode: no triggers) the dashboard computes from the tickets (`available()`).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Q, Sum

from tickets.dashboard import (
    ATTAINMENT_METRICS,
    Attainment,
    BacklogPoint,
    DateRange,
    ResponseTimes,
    backlog_bucket_ends,
    backlog_step,
)
from tickets.models import OPEN_STATUSES, Channel, DashboardDay, DashboardResponseBucket, Severity

#: Each histogram bucket is this many times as wide as the one before (tickets_dashboard_bucket()).
BUCKET_RATIO = 1.05
#: The percentiles' precision: relative to the exact value, or this absolute floor (bucket 0).
PERCENTILE_PRECISION = (BUCKET_RATIO - 1, timedelta(seconds=1))


def available() -> bool:
    """Whether the database keeps the roll-ups (PostgreSQL's triggers); elsewhere, read the tickets."""
    return connection.vendor == "postgresql"


def refresh() -> int:
    """Bring the roll-ups up to date with the tickets changed since the last refresh; return how many
    tickets that was. One statement, which waits while another refresh runs (then finds its work done)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tickets_dashboard_refresh()")
        return cursor.fetchone()[0]


def rebuild() -> int:
    """Recompute the roll-ups from every ticket and clock; return the number of tickets."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tickets_dashboard_refresh(true)")
        return cursor.fetchone()[0]


# --- open tickets now ------------------------------------------------------------------------------------

_OPEN_COLUMNS = {status: f"open_{status}" for status in OPEN_STATUSES}


def open_by_severity_status(organization: int | None = None) -> dict[str, dict[str, int]]:
    """As `dashboard.open_by_severity_status`: the open_* columns of the days that still have open
    tickets (a partial index), summed per severity. One query."""
    still_open = Q()
    for column in _OPEN_COLUMNS.values():
        still_open |= Q(**{f"{column}__gt": 0})
    rows = (
        DashboardDay.objects.filter(_scope(organization), still_open)
        .values("severity")
        .annotate(**{status: Sum(column) for status, column in _OPEN_COLUMNS.items()})
        .order_by()
    )
    counts = {severity: dict.fromkeys(OPEN_STATUSES, 0) for severity in Severity.values}
    for row in rows:
        counts[row["severity"]] = {status: row[status] for status in OPEN_STATUSES}
    return counts


def _scope(organization: int | None) -> Q:
    return Q(organization__isnull=True) if organization is None else Q(organization=organization)


# --- attainment, backlog and channels: one query over the range's days ------------------------------------


@dataclass(frozen=True)
class RangeFigures:
    """What `range_figures` reads in its one query: the reference's attainment, backlog and channels."""

    attainment: list[Attainment]
    backlog: list[BacklogPoint]
    channels: dict[str, int]


# GROUPING(bucket, week, severity, channel) of each grouping set below.
_BACKLOG, _ATTAINMENT, _CHANNELS = 0b0111, 0b1001, 0b1110

_RANGE_SQL = """
    SELECT GROUPING(bucket, week, severity, channel), bucket, week, severity, channel,
        SUM(created) - SUM(done), SUM(created),
        SUM(first_response_met), SUM(first_response_breached), SUM(first_response_running),
        SUM(resolution_met), SUM(resolution_breached), SUM(resolution_running)
    FROM (
        SELECT CASE WHEN day >= %(first)s THEN (day - %(first)s) / %(step)s ELSE -1 END AS bucket,
            CASE WHEN day >= %(first)s THEN day - (EXTRACT(ISODOW FROM day)::int - 1) END AS week,
            severity,
            CASE WHEN day >= %(first)s THEN channel END AS channel,
            created, done, first_response_met, first_response_breached, first_response_running,
            resolution_met, resolution_breached, resolution_running
        FROM tickets_dashboardday
        WHERE {scope} AND day <= %(last)s
    ) AS days
    GROUP BY GROUPING SETS ((bucket), (week, severity), (channel))
"""


def range_figures(period: DateRange, organization: int | None = None) -> RangeFigures:
    """`dashboard.sla_attainment`, `dashboard.backlog` and `dashboard.tickets_by_channel` for a range of
    whole UTC days, in one query: the roll-up rows up to the range's last day, grouped three ways at
    once (GROUPING SETS): per backlog bucket (created − done; the days before the range make the open
    count at its start), per week and severity (the clocks' outcomes) and per channel (created).

    The backlog sums every day before the range: a year of history is ~9,000 all-organization rows
    (25 severity × channel pairs a day), read from an index in a few milliseconds."""
    _whole_days(period)
    step = backlog_step(period)
    ends = backlog_bucket_ends(period, step)
    scope = "organization_id IS NULL" if organization is None else "organization_id = %(organization)s"
    params = {
        "first": period.first_day,
        "last": period.last_day,
        "step": step.days,
        "organization": organization,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RANGE_SQL.format(scope=scope), params)
        rows = cursor.fetchall()

    deltas = [0] * len(ends)
    base = 0
    clocks: dict[tuple[date, str], tuple[int, ...]] = {}
    channels = dict.fromkeys(Channel.values, 0)
    for grouping, bucket, week, severity, channel, delta, created, *outcomes in rows:
        if grouping == _BACKLOG:
            if bucket < 0:
                base = int(delta)
            else:
                deltas[bucket] = int(delta)
        elif grouping == _ATTAINMENT and week is not None:
            clocks[(week, severity)] = tuple(int(n) for n in outcomes)
        elif grouping == _CHANNELS and channel is not None:
            channels[channel] = int(created)

    backlog, running = [], base
    for at, delta in zip(ends, deltas, strict=True):
        running += delta
        backlog.append(BacklogPoint(day=(at - timedelta(microseconds=1)).date(), at=at, open=running))

    attainment = []
    for (week, severity), outcomes in sorted(clocks.items()):
        for metric, (met, breached, running_) in zip(
            ATTAINMENT_METRICS, (outcomes[:3], outcomes[3:]), strict=True
        ):
            if met or breached or running_:
                attainment.append(Attainment(week, severity, metric, met, breached, running_))
    return RangeFigures(attainment=attainment, backlog=backlog, channels=channels)


# --- first-response times ------------------------------------------------------------------------------


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The durations (seconds) a histogram bucket holds, [low, high): under a second for bucket 0."""
    if bucket == 0:
        return 0.0, 1.0
    return BUCKET_RATIO ** (bucket - 1), BUCKET_RATIO**bucket


def bucket_of(duration: timedelta) -> int:
    """The bucket of a duration, as tickets_dashboard_bucket() computes it in SQL (tests use this)."""
    seconds = duration.total_seconds()
    return 0 if seconds < 1 else 1 + math.floor(math.log(seconds) / math.log(BUCKET_RATIO))


def estimated_percentile(histogram: list[tuple[int, int, float]], fraction: float) -> timedelta:
    """The continuous percentile (PostgreSQL's PERCENTILE_CONT) of the durations counted in `histogram`:
    (bucket, count, sum of the durations in seconds) in bucket order, none empty.

    A bucket's durations are placed evenly around their mean, as widely as the bucket allows on both
    sides of it (a bucket holding one duration gives it exactly), and the percentile is interpolated
    between the two ranks around fraction × (n − 1), as PERCENTILE_CONT does between the exact values.
    Every placed value is in the same bucket as the exact one, so it is off by less than the bucket's
    width, 5 % of its low edge; the interpolation of two such values is off by less than 5 % of the
    exact percentile (or one second, bucket 0's width)."""
    total = sum(count for _, count, _ in histogram)
    position = fraction * (total - 1)
    low = math.floor(position)
    high = min(low + 1, total - 1)
    low_value, high_value = _ranked(histogram, low), _ranked(histogram, high)
    return timedelta(seconds=low_value + (high_value - low_value) * (position - low))


def _ranked(histogram: list[tuple[int, int, float]], rank: int) -> float:
    """The estimated value (seconds) of the duration of that rank (0 = the shortest)."""
    seen = 0
    for bucket, count, seconds in histogram:
        if rank < seen + count:
            low, high = bucket_bounds(bucket)
            mean = min(max(seconds / count, low), high)
            spread = 2 * min(mean - low, high - mean)
            return mean + spread * ((rank - seen + 0.5) / count - 0.5)
        seen += count
    raise ValueError("rank beyond the histogram")


def first_response_times(period: DateRange, organization: int | None = None) -> list[ResponseTimes]:
    """As `dashboard.first_response_times` (count exact, median and p90 within `PERCENTILE_PRECISION`):
    the histogram of the range, summed per severity and bucket by the database from the whole months
    inside the range and the days at its ends. One query."""
    _whole_days(period)
    first, last = period.first_day, period.last_day
    months_from = first if first.day == 1 else _next_month(first)
    months_until = _next_month(last) if last.day == calendar.monthrange(last.year, last.month)[1] else last
    months_until = months_until.replace(day=1)
    day, month = DashboardResponseBucket.Span.DAY, DashboardResponseBucket.Span.MONTH
    if months_from < months_until:
        periods = (
            Q(span=day, period__gte=first, period__lt=months_from)
            | Q(span=month, period__gte=months_from, period__lt=months_until)
            | Q(span=day, period__gte=months_until, period__lte=last)
        )
    else:
        periods = Q(span=day, period__gte=first, period__lte=last)
    rows = (
        DashboardResponseBucket.objects.filter(_scope(organization), periods)
        .values_list("severity", "bucket")
        .annotate(n=Sum("count"), seconds=Sum("seconds"))
        .order_by("severity", "bucket")
    )
    histograms: dict[str, list[tuple[int, int, float]]] = {}
    for severity, bucket, n, seconds in rows:
        if n:
            histograms.setdefault(severity, []).append((bucket, n, seconds))
    return [
        ResponseTimes(
            severity=severity,
            count=sum(n for _, n, _ in histogram),
            median=estimated_percentile(histogram, 0.5),
            p90=estimated_percentile(histogram, 0.9),
        )
        for severity, histogram in histograms.items()
    ]


def _whole_days(period: DateRange) -> None:
    if period != DateRange.from_days(period.first_day, period.last_day):
        raise ValueError("the roll-ups hold whole UTC days")


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
