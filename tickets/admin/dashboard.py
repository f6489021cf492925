"""The SLA dashboard of the agent console (/admin/dashboard/): the SLA figures of a range of UTC days,
for all organizations or one, as tables and Chart.js charts, or as CSV (`?format=csv`).

On PostgreSQL the figures come from the daily roll-ups (`tickets.rollups`, refreshed first so they are
exact): a fixed number of queries, each reading a few thousand rows for a year whatever the number of
tickets. On SQLite (the embedded mode) they are computed from the tickets (`tickets.dashboard`).

Agents (staff with `tickets.view_ticket`) may see it; anyone else is sent to the console's sign-in (not
staff) or refused (staff without the permission).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from sla.models import Metric
from tickets import dashboard, rollups
from tickets.admin.filters import ORGANIZATIONS_LISTED
from tickets.admin.tickets import SEVERITY_COLOURS
from tickets.models import OPEN_STATUSES, Channel, Organization, Severity, Status

#: The default range: the last 12 weeks, today (UTC) included.
DEFAULT_DAYS = 12 * 7
#: The longest range the form accepts: two years (731 days, a leap day included).
MAX_DAYS = 731
PERMISSION = "tickets.view_ticket"

ATTAINMENT_TEXTS = {
    Metric.FIRST_RESPONSE: {
        "title": "First response met on time, per week",
        "help": "Per UTC week of the tickets' creation and severity: the share met on time of the clocks "
        "decided (met on time, or breached: met late or not at all); those still running are left out. "
        "In brackets: met on time / decided.",
    },
    Metric.RESOLUTION: {
        "title": "Resolution met on time, per week",
        "help": "The same for the resolution (workaround) target (the shipped response-target chart sets one "
        "for S1–S3 only).",
    },
}

# The admin's index page, with the "Agent console" box above the app list. It is not named
# admin/index.html: django.contrib.admin comes before this app in INSTALLED_APPS, so the admin's own
# template of that name would always be found first.
admin.site.index_template = "admin/tickets/index.html"


class DashboardRangeForm(forms.Form):
    """The UTC days to show, both included, and the organization (empty: all of them)."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(
        label="To (included)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    organization = forms.TypedChoiceField(label="Organization", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read once, when first needed (checking a chosen one, or drawing the select).
        self.fields["organization"].choices = self._organization_choices
        self._organizations: list[tuple[int, str]] | None = None

    def _organization_choices(self) -> list[tuple[str | int, str]]:
        """As the console's organization filter: the first ORGANIZATIONS_LISTED by name (their unique
        index), and the chosen one if it is not among them (reached by its id in the address)."""
        if self._organizations is None:
            by_name = Organization.objects.order_by("name").values_list("pk", "name")
            listed = list(by_name[:ORGANIZATIONS_LISTED])
            chosen = str(self.data.get("organization") or "")
            if re.fullmatch(r"[0-9]{1,18}", chosen) and int(chosen) not in {pk for pk, _ in listed}:
                listed = sorted([*listed, *by_name.filter(pk=int(chosen))], key=lambda row: row[1])
            self._organizations = listed
        return [("", "All organizations"), *self._organizations]

    @property
    def organization_name(self) -> str:
        chosen = self.cleaned_data.get("organization")
        return "All organizations" if chosen is None else dict(self._organization_choices())[chosen]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        if start > end:
            raise forms.ValidationError("The start date is after the end date.", code="order")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                f"The range is longer than two years ({MAX_DAYS} days); choose a shorter one.", code="length"
            )
        if end >= date.max:
            raise forms.ValidationError("The end date is too far in the future.", code="too_late")
        return data

    @property
    def period(self) -> dashboard.DateRange:
        return dashboard.DateRange.from_days(self.cleaned_data["start"], self.cleaned_data["end"])


def default_range(today: date | None = None) -> dict[str, date]:
    today = today or timezone.now().date()  # timezone.now() is UTC
    return {"start": today - timedelta(days=DEFAULT_DAYS - 1), "end": today}


@dataclass(frozen=True)
class Figures:
    """Everything the page, its charts and the CSV show."""

    period: dashboard.DateRange
    organization: str
    open_matrix: dict[str, dict[str, int]]
    attainment: list[dashboard.Attainment]
    response_times: list[dashboard.ResponseTimes]
    backlog: list[dashboard.BacklogPoint]
    backlog_step: str
    channels: dict[str, int]

    @classmethod
    def compute(
        cls, period: dashboard.DateRange, organization: int | None = None, organization_name: str = ""
    ) -> Figures:
        """From the roll-ups where the database keeps them (after applying the changes since the last
        refresh: one statement), else from the tickets."""
        step = "day" if dashboard.backlog_step(period) == timedelta(days=1) else "week"
        name = organization_name or "All organizations"
        if rollups.available():
            rollups.refresh()
            in_range = rollups.range_figures(period, organization)
            return cls(
                period=period,
                organization=name,
                open_matrix=rollups.open_by_severity_status(organization),
                attainment=in_range.attainment,
                response_times=rollups.first_response_times(period, organization),
                backlog=in_range.backlog,
                backlog_step=step,
                channels=in_range.channels,
            )
        return cls(
            period=period,
            organization=name,
            open_matrix=dashboard.open_by_severity_status(organization),
            attainment=dashboard.sla_attainment(period, organization),
            response_times=dashboard.first_response_times(period, organization),
            backlog=dashboard.backlog(period, organization),
            backlog_step=step,
            channels=dashboard.tickets_by_channel(period, organization),
        )

    # --- for the page's tables -----------------------------------------------------------------

    def open_rows(self) -> list[dict]:
        return [
            {
                "severity": severity,
                "label": Severity(severity).label,
                "counts": [counts[status] for status in OPEN_STATUSES],
                "total": sum(counts.values()),
            }
            for severity, counts in self.open_matrix.items()
        ]

    def open_totals(self) -> list[int]:
        return [sum(counts[status] for counts in self.open_matrix.values()) for status in OPEN_STATUSES]

    def attainment_sections(self) -> list[dict]:
        """Per metric: a row per week, a column per severity that has clocks, each cell's texts made
        here (a year of weeks is hundreds of cells: cheaper than filters in the template)."""
        weeks = self.period.weeks()
        sections = []
        for metric in dashboard.ATTAINMENT_METRICS:
            rows = [row for row in self.attainment if row.metric == metric]
            severities = sorted({row.severity for row in rows})
            cells = {(row.week, row.severity): _attainment_cell(row) for row in rows}
            sections.append(
                {
                    "metric": metric,
                    **ATTAINMENT_TEXTS[metric],
                    "severities": severities,
                    "rows": [
                        {
                            "week": week.isoformat(),
                            "cells": [cells.get((week, severity)) for severity in severities],
                        }
                        for week in weeks
                    ],
                }
            )
        return sections

    def response_rows(self) -> list[dict]:
        return [
            {
                "severity": row.severity,
                "label": Severity(row.severity).label,
                "count": row.count,
                "median": human_duration(row.median),
                "p90": human_duration(row.p90),
                "median_minutes": minutes(row.median),
                "p90_minutes": minutes(row.p90),
            }
            for row in self.response_times
        ]

    def channel_rows(self) -> list[dict]:
        return [
            {"channel": channel, "label": Channel(channel).label, "count": n}
            for channel, n in self.channels.items()
        ]

    # --- for the charts ------------------------------------------------------------------------

    def chart_data(self) -> dict:
        """The JSON the page's script draws from (json_script)."""
        weeks = self.period.weeks()
        index = {week: i for i, week in enumerate(weeks)}
        attainment: dict[str, dict[str, list[float | None]]] = {
            metric: {} for metric in dashboard.ATTAINMENT_METRICS
        }
        for row in self.attainment:
            series = attainment[row.metric].setdefault(row.severity, [None] * len(weeks))
            series[index[row.week]] = row.percent
        return {
            "severities": [
                {"key": severity, "label": label, "colour": SEVERITY_COLOURS[severity]}
                for severity, label in Severity.choices
            ],
            "statuses": [{"key": status, "label": Status(status).label} for status in OPEN_STATUSES],
            "open": {
                status: [self.open_matrix[severity][status] for severity in Severity.values]
                for status in OPEN_STATUSES
            },
            "weeks": [week.isoformat() for week in weeks],
            "attainment": {
                metric: {"label": Metric(metric).label, "series": attainment[metric]}
                for metric in dashboard.ATTAINMENT_METRICS
            },
            "response_times": [
                {"severity": row.severity, "median": minutes(row.median), "p90": minutes(row.p90)}
                for row in self.response_times
            ],
            "backlog": {
                "step": self.backlog_step,
                "labels": [point.day.isoformat() for point in self.backlog],
                "values": [point.open for point in self.backlog],
            },
            "channels": [
                {"key": channel, "label": Channel(channel).label, "count": n}
                for channel, n in self.channels.items()
            ],
        }

    # --- CSV -----------------------------------------------------------------------------------

    def csv_rows(self) -> list[list]:
        first, last = self.period.first_day.isoformat(), self.period.last_day.isoformat()
        rows: list[list] = [
            ["SLA dashboard", f"{first} to {last} (UTC days, both included)"],
            ["organization", self.organization],
            [],
        ]

        rows += [["section", "Open tickets now by severity and status"]]
        rows += [["severity", *OPEN_STATUSES, "total"]]
        rows += [[row["severity"], *row["counts"], row["total"]] for row in self.open_rows()]
        rows += [["total", *self.open_totals(), sum(self.open_totals())], []]

        rows += [["section", "SLA attainment per week of creation (UTC weeks from Monday)"]]
        rows += [["week", "severity", "metric", "met_on_time", "breached", "running", "attainment_percent"]]
        rows += [
            [
                row.week.isoformat(),
                row.severity,
                row.metric,
                row.met,
                row.breached,
                row.running,
                "" if row.percent is None else row.percent,
            ]
            for row in self.attainment
        ]
        rows += [[]]

        rows += [["section", "First-response time of clocks met in the range (wall-clock minutes)"]]
        rows += [["severity", "count", "median_minutes", "p90_minutes"]]
        rows += [
            [row.severity, row.count, minutes(row.median), minutes(row.p90)] for row in self.response_times
        ]
        rows += [[]]

        rows += [["section", f"Backlog: tickets open at the end of each {self.backlog_step}"]]
        rows += [["last_day", "end_utc", "open"]]
        rows += [[point.day.isoformat(), point.at.isoformat(), point.open] for point in self.backlog]
        rows += [[]]

        rows += [["section", "Tickets created in the range by channel"]]
        rows += [["channel", "count"]]
        rows += [[channel, n] for channel, n in self.channels.items()]
        return rows


def _attainment_cell(row: dashboard.Attainment) -> dict[str, str]:
    return {
        "percent": "—" if row.percent is None else f"{row.percent:.0f} %",
        "ratio": f"({row.met}/{row.decided})",
        "title": f"met on time {row.met}, breached {row.breached}, running {row.running}",
    }


def minutes(value: timedelta) -> float:
    return round(value.total_seconds() / 60, 1)


def human_duration(value: timedelta) -> str:
    """Rounded down to the minute: 45 min, 3 h 05 min, 2 d 4 h (under a minute: 40 s)."""
    value = max(value, timedelta(0))
    total = int(value.total_seconds() // 60)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    seconds = value.total_seconds()
    return f"{mins} min" if mins else f"{seconds:.0f} s"


def _dashboard(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    data = {key: value.isoformat() for key, value in default_range().items()}
    data.update({key: request.GET[key] for key in ("start", "end", "organization") if request.GET.get(key)})
    form = DashboardRangeForm(data)
    wants_csv = request.GET.get("format") == "csv"
    if not form.is_valid():
        if wants_csv:
            problems = "; ".join(error for errors in form.errors.values() for error in errors)
            return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
        return _render(request, form, None)
    figures = Figures.compute(
        form.period, form.cleaned_data["organization"], organization_name=form.organization_name
    )
    if wants_csv:
        return _csv(figures)
    return _render(request, form, figures)


def _render(request, form: DashboardRangeForm, figures: Figures | None) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": "SLA dashboard",
        "form": form,
        "figures": figures,
        "statuses": [Status(status).label for status in OPEN_STATUSES],
    }
    if figures is not None:
        context.update(
            open_rows=figures.open_rows(),
            open_totals=figures.open_totals(),
            open_total=sum(figures.open_totals()),
            attainment_sections=figures.attainment_sections(),
            response_rows=figures.response_rows(),
            channel_rows=figures.channel_rows(),
            chart_data=figures.chart_data(),
            csv_query=urlencode({**_query(form), "format": "csv"}),
        )
    return TemplateResponse(request, "admin/tickets/dashboard.html", context)


def _query(form: DashboardRangeForm) -> dict[str, str]:
    """The form's choices as a query string's parameters (the organization only when one is chosen)."""
    query = {"start": f"{form.cleaned_data['start']:%Y-%m-%d}", "end": f"{form.cleaned_data['end']:%Y-%m-%d}"}
    if form.cleaned_data["organization"] is not None:
        query["organization"] = str(form.cleaned_data["organization"])
    return query


def _csv(figures: Figures) -> HttpResponse:
    first, last = figures.period.first_day.isoformat(), figures.period.last_day.isoformat()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sla-dashboard-{first}-to-{last}.csv"'
    csv.writer(response).writerows(figures.csv_rows())
    return response


#: The view, behind the console's sign-in (staff only) and the permission check above.
dashboard_view = admin.site.admin_view(_dashboard)
