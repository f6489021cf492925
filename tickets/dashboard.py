"""The SLA dashboard's figures: set-based aggregate queries over a date range, never a loop over tickets.

Every function takes a `DateRange`, the half-open interval [start, end) of UTC instants (the dashboard
page turns whole UTC days into one), except `open_by_severity_status`, a snapshot of now, and optionally
an organization's id (its tickets only). Each one runs one query (the backlog on databases other than
PostgreSQL: two), however many tickets there are; only what comes back (at most a few hundred grouped
rows, or on SQLite one column of durations) is arranged in Python.

These read the tickets and clocks themselves, so their cost grows with the tickets of the range. On
PostgreSQL the page reads the same figures from daily roll-ups instead (tickets/rollups.py); these stay
as the reference the roll-ups are tested against, and as the page's source on SQLite (the embedded mode).

Conventions:
- A ticket's severity is its current severity (a clock stores none of its own).
- Weeks are ISO weeks in UTC: Monday 00:00 UTC to the next Monday.
- A ticket is done from `resolved_at` (or `closed_at` when it was closed without a resolution time) on.
  A reopen clears `resolved_at`, so a reopened ticket counts as open for its whole past.
- Durations are wall-clock time (`met_at − started_at`), not business time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    BooleanField,
    Case,
    Count,
    DateField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate, TruncWeek

from sla.models import Metric, TicketClock
from tickets.models import OPEN_STATUSES, Channel, Severity, Ticket

#: The metrics whose attainment the dashboard shows (next_update is a cadence, not a single target).
ATTAINMENT_METRICS = (Metric.FIRST_RESPONSE, Metric.RESOLUTION)
#: Up to this many days the backlog has a point per day; longer ranges have one per week.
DAILY_BACKLOG_MAX_DAYS = 92


@dataclass(frozen=True)
class DateRange:
    """[start, end): aware UTC datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("DateRange needs aware datetimes")
        if self.end <= self.start:
            raise ValueError("DateRange needs start < end")

    @classmethod
    def from_days(cls, first: date, last: date) -> DateRange:
        """The UTC days `first` to `last`, both included: [first 00:00 UTC, last + 1 day 00:00 UTC)."""
        return cls(
            datetime.combine(first, time.min, tzinfo=UTC),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
        )

    @property
    def first_day(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def last_day(self) -> date:
        """The last UTC day the range touches."""
        return (self.end.astimezone(UTC) - timedelta(microseconds=1)).date()

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def weeks(self) -> list[date]:
        """The Mondays of the UTC weeks the range touches, in order (the attainment chart's axis)."""
        monday = self.first_day - timedelta(days=self.first_day.weekday())
        weeks = []
        while monday <= self.last_day:
            weeks.append(monday)
            monday += timedelta(weeks=1)
        return weeks


# --- open tickets -------------------------------------------------------------------------------------


def open_by_severity_status(organization: int | None = None) -> dict[str, dict[str, int]]:
    """Tickets open now, counted per severity and open status: `{"S1": {"new": 2, "open": 0, ...}, ...}`.

    A snapshot of the present (a ticket's past statuses are in its audit trail, not in a column), so it
    takes no date range. Every severity and open status is present, zeros included. One GROUP BY.
    """
    counts = {severity: dict.fromkeys(OPEN_STATUSES, 0) for severity in Severity.values}
    rows = (
        _tickets(organization)
        .filter(status__in=OPEN_STATUSES)
        .values("severity", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in rows:
        counts[row["severity"]][row["status"]] = row["n"]
    return counts


# --- SLA attainment -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attainment:
    """One week, severity and metric: clocks met on time, breached, and still running (neither yet)."""

    week: date
    severity: str
    metric: str
    met: int
    breached: int
    running: int

    @property
    def decided(self) -> int:
        return self.met + self.breached

    @property
    def percent(self) -> float | None:
        """Share met on time of the clocks decided (met or breached); None when none is."""
        return round(100 * self.met / self.decided, 1) if self.decided else None


def sla_attainment(period: DateRange, organization: int | None = None) -> list[Attainment]:
    """Attainment of first_response and resolution per severity and UTC week of the ticket's creation,
    for tickets created in `period`. A clock counts as met on time when `met_at` is set and `breached_at`
    is not, as breached when `breached_at` is set (met late or not at all), and as running otherwise.

    Rows are ordered by week, severity and metric; combinations without clocks are left out. One GROUP BY,
    on (week, severity, metric, met?, breached?) with a plain COUNT: at 100,000 tickets that is much
    cheaper than three filtered COUNTs per group; the at most four outcomes of each group are added up
    here.
    """
    if connection.vendor == "postgresql":
        # Monday 00:00 UTC by integer arithmetic (7-day bins from Monday 2001-01-01), cheaper than
        # DATE_TRUNC in a time zone.
        week = Func(
            F("ticket__created_at"),
            template="DATE_BIN('7 days', %(expressions)s, TIMESTAMPTZ '2001-01-01 00:00:00+00')",
            output_field=DateTimeField(),
        )
    else:
        week = TruncWeek("ticket__created_at", tzinfo=UTC)
    rows = (
        _clocks(organization)
        .filter(
            metric__in=ATTAINMENT_METRICS,
            ticket__created_at__gte=period.start,
            ticket__created_at__lt=period.end,
        )
        .annotate(
            week=week,
            is_met=ExpressionWrapper(Q(met_at__isnull=False), output_field=BooleanField()),
            is_breached=ExpressionWrapper(Q(breached_at__isnull=False), output_field=BooleanField()),
        )
        .values_list("week", "ticket__severity", "metric", "is_met", "is_breached")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts: dict[tuple[date, str, str], list[int]] = {}
    for week_start, severity, metric, is_met, is_breached, n in rows:
        met_breached_running = counts.setdefault((_as_date(week_start), severity, metric), [0, 0, 0])
        met_breached_running[1 if is_breached else 0 if is_met else 2] += n
    return [Attainment(*key, *values) for key, values in sorted(counts.items())]


def _as_date(value: datetime | date) -> date:
    """A week's Monday 00:00 UTC as a date."""
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


# --- first-response times -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseTimes:
    """Wall-clock first-response times of one severity's clocks met in the range."""

    severity: str
    count: int
    median: timedelta
    p90: timedelta


class PercentileCont(Aggregate):
    """PostgreSQL's `PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY expression)`: the continuous
    percentile, interpolated between the two nearest values (like `percentile` below)."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("the fraction of a percentile is between 0 and 1")
        # A validated float, formatted by us: safe in the SQL text.
        super().__init__(expression, fraction=repr(fraction), **extra)


def percentile(ordered: list[timedelta], fraction: float) -> timedelta:
    """The continuous percentile of sorted, non-empty `ordered`, as PostgreSQL's PERCENTILE_CONT: the
    value at position fraction × (n − 1), interpolated linearly between its neighbours."""
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def first_response_times(period: DateRange, organization: int | None = None) -> list[ResponseTimes]:
    """Median and 90th percentile of `met_at − started_at` per severity, over first_response clocks met
    in `period` (on time or late). Severities with no such clock are left out; ordered by severity.

    One query: on PostgreSQL the percentiles are computed by the database (PERCENTILE_CONT); elsewhere
    the query returns only (severity, duration) pairs, sorted, and the percentiles are read off them.
    """
    duration = ExpressionWrapper(F("met_at") - F("started_at"), output_field=DurationField())
    clocks = _clocks(organization).filter(
        metric=Metric.FIRST_RESPONSE, met_at__gte=period.start, met_at__lt=period.end
    )
    if connection.vendor == "postgresql":
        rows = (
            clocks.values("ticket__severity")
            .annotate(
                n=Count("*"),
                median=PercentileCont(duration, 0.5, output_field=DurationField()),
                p90=PercentileCont(duration, 0.9, output_field=DurationField()),
            )
            .order_by("ticket__severity")
        )
        return [ResponseTimes(row["ticket__severity"], row["n"], row["median"], row["p90"]) for row in rows]
    by_severity: dict[str, list[timedelta]] = {}
    pairs = clocks.annotate(duration=duration).order_by("ticket__severity", "duration")
    for severity, value in pairs.values_list("ticket__severity", "duration"):
        by_severity.setdefault(severity, []).append(value)
    return [
        ResponseTimes(severity, len(values), percentile(values, 0.5), percentile(values, 0.9))
        for severity, values in by_severity.items()
    ]


# --- backlog -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogPoint:
    """Tickets open at `at` (the end of the bucket whose last UTC day is `day`)."""

    day: date
    at: datetime
    open: int


def backlog_step(period: DateRange) -> timedelta:
    """A point per day for ranges up to DAILY_BACKLOG_MAX_DAYS days, else a point per week."""
    return timedelta(days=1) if period.days <= DAILY_BACKLOG_MAX_DAYS else timedelta(weeks=1)


def backlog_bucket_ends(period: DateRange, step: timedelta) -> list[datetime]:
    """The end of each backlog bucket: every `step` from the range's start, the last one at its end."""
    count = math.ceil((period.end - period.start) / step)
    return [min(period.start + (i + 1) * step, period.end) for i in range(count)]


def backlog(period: DateRange, organization: int | None = None) -> list[BacklogPoint]:
    """Tickets open at the end of each bucket (day or week, see `backlog_step`) of `period`: created
    before the bucket's end and not done (resolved or closed) before it. The buckets start at
    `period.start`; the last one may be shorter and ends at `period.end`.

    The count is the tickets open at the start plus, bucket by bucket, those created minus those done: on
    PostgreSQL one query (generate_series for the buckets, a running SUM over them); elsewhere two GROUP
    BY queries (created per UTC day, with the ones open at the start as one more group; done per UTC day)
    summed up in Python. The range must start and end at midnight UTC (whole UTC days).
    """
    if not (_is_midnight_utc(period.start) and _is_midnight_utc(period.end)):
        raise ValueError("the backlog needs a range of whole UTC days")
    step = backlog_step(period)
    ends = backlog_bucket_ends(period, step)
    if connection.vendor == "postgresql":
        counts = _backlog_postgresql(period, step, len(ends), organization)
    else:
        counts = _backlog_portable(period, step, len(ends), organization)
    return [
        BacklogPoint(day=(at - timedelta(microseconds=1)).date(), at=at, open=n)
        for at, n in zip(ends, counts, strict=True)
    ]


def _is_midnight_utc(at: datetime) -> bool:
    return at.astimezone(UTC).time() == time.min


def _done():
    return Coalesce("resolved_at", "closed_at")


def _backlog_portable(
    period: DateRange, step: timedelta, buckets: int, organization: int | None
) -> list[int]:
    before = Q(created_at__lt=period.start)
    still_open = Q(done__isnull=True) | Q(done__gte=period.start)
    created = (
        _tickets(organization)
        .annotate(done=_done())
        .filter(created_at__lt=period.end)
        .filter(~before | still_open)
        .values(
            day=Case(
                When(before, then=Value(None)),
                default=TruncDate("created_at", tzinfo=UTC),
                output_field=DateField(),
            )
        )
        .annotate(n=Count("*"))
        .order_by()
    )
    done = (
        _tickets(organization)
        .annotate(done=_done())
        .filter(done__gte=period.start, done__lt=period.end)
        .values(day=TruncDate("done", tzinfo=UTC))
        .annotate(n=Count("*"))
        .order_by()
    )
    step_days = step.days
    changes = [0] * buckets
    base = 0
    for row in created:
        if row["day"] is None:
            base = row["n"]
        else:
            changes[(row["day"] - period.first_day).days // step_days] += row["n"]
    for row in done:
        changes[(row["day"] - period.first_day).days // step_days] -= row["n"]
    counts, running = [], base
    for change in changes:
        running += change
        counts.append(running)
    return counts


def _backlog_postgresql(
    period: DateRange, step: timedelta, buckets: int, organization: int | None
) -> list[int]:
    """One pass over the tickets open at some point of the range, counted per pair (bucket of creation,
    bucket where done): a creation before the range falls in a bucket "-infinity" before the first, a
    ticket not done by the end has no second bucket. The few hundred pairs become +n in the first bucket
    and −n in the second; a running SUM over the buckets (generate_series, so that empty ones count too)
    gives the backlog at the end of each."""
    table = connection.ops.quote_name(Ticket._meta.db_table)
    of_organization = " AND organization_id = %(organization)s" if organization is not None else ""
    sql = f"""
        WITH tickets AS (
            SELECT created_at, COALESCE(resolved_at, closed_at) AS done_at
            FROM {table}
            WHERE created_at < %(end)s{of_organization}
        ),
        pairs AS (
            SELECT CASE WHEN created_at < %(start)s THEN '-infinity'::timestamptz
                        ELSE DATE_BIN(%(step)s, created_at, %(start)s) END AS created_bucket,
                   CASE WHEN done_at < %(end)s THEN DATE_BIN(%(step)s, done_at, %(start)s) END AS done_bucket,
                   COUNT(*) AS n
            FROM tickets
            WHERE done_at IS NULL OR done_at >= %(start)s
            GROUP BY 1, 2
        ),
        changes AS (
            SELECT bucket, SUM(delta) AS delta
            FROM (
                SELECT created_bucket AS bucket, n AS delta FROM pairs
                UNION ALL
                SELECT done_bucket, -n FROM pairs WHERE done_bucket IS NOT NULL
            ) AS moves
            GROUP BY bucket
        ),
        buckets AS (
            SELECT '-infinity'::timestamptz AS bucket
            UNION ALL
            SELECT generate_series(%(start)s, %(start)s + (%(buckets)s - 1) * %(step)s, %(step)s)
        )
        SELECT SUM(COALESCE(changes.delta, 0)) OVER (ORDER BY buckets.bucket)
        FROM buckets LEFT JOIN changes ON changes.bucket = buckets.bucket
        ORDER BY buckets.bucket
        OFFSET 1
    """  # noqa: S608 - the table name comes from the model; every value is a parameter
    params = {
        "start": period.start,
        "end": period.end,
        "step": step,
        "buckets": buckets,
        "organization": organization,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(n) for (n,) in cursor.fetchall()]


# --- channels ----------------------------------------------------------------------------------------


def tickets_by_channel(period: DateRange, organization: int | None = None) -> dict[str, int]:
    """Tickets created in `period` per channel, every channel present (zeros included). One GROUP BY."""
    counts = dict.fromkeys(Channel.values, 0)
    rows = (
        _tickets(organization)
        .filter(created_at__gte=period.start, created_at__lt=period.end)
        .values("channel")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in rows:
        counts[row["channel"]] = row["n"]
    return counts


def _tickets(organization: int | None):
    tickets = Ticket.objects.all()
    return tickets if organization is None else tickets.filter(organization_id=organization)


def _clocks(organization: int | None):
    clocks = TicketClock.objects.all()
    return clocks if organization is None else clocks.filter(ticket__organization_id=organization)
