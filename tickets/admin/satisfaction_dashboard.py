"""The console's satisfaction and self-service dashboard (/admin/dashboard/satisfaction/): customers'
ratings by week, severity and agent, and the help center's deflections by week, for the last N weeks
(UTC), as Chart.js charts and tables. A page of its own beside the SLA dashboard (linked from it), so the
two evolve apart. A fixed number of queries whatever the number of ratings (tickets.satisfaction.figures).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from tickets import satisfaction
from tickets.models import Severity

PERMISSION = "tickets.view_satisfactionrating"
DEFAULT_WEEKS = 12
MAX_WEEKS = 104


def _weeks(request) -> tuple[int, str]:
    raw = request.GET.get("weeks", "")
    if not raw:
        return DEFAULT_WEEKS, ""
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        return DEFAULT_WEEKS, f"Weeks: a whole number from 1 to {MAX_WEEKS}; showing {DEFAULT_WEEKS}."
    return int(raw), ""


def _satisfaction_dashboard(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    weeks, error = _weeks(request)
    today = timezone.now().date()
    monday = today - timedelta(days=today.weekday())
    start_day = monday - timedelta(weeks=weeks - 1)
    start = datetime.combine(start_day, time.min, tzinfo=UTC)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)
    figures = satisfaction.figures(start, end)
    week_labels = [(start_day + timedelta(weeks=i)) for i in range(weeks)]
    by_week = {row["week"]: row for row in figures.by_week}
    deflections = {row["week"]: row for row in figures.deflections_by_week}
    rows = [
        {
            "week": week,
            "good": by_week.get(week, {}).get("good", 0),
            "bad": by_week.get(week, {}).get("bad", 0),
            "percent": by_week.get(week, {}).get("percent"),
            "opened": deflections.get(week, {}).get("opened", 0),
            "deflected": deflections.get(week, {}).get("deflected", 0),
        }
        for week in week_labels
    ]
    severity_rows = [{**row, "label": Severity(row["severity"]).label} for row in figures.by_severity]
    chart = {
        "weeks": [week.isoformat() for week in week_labels],
        "good": [row["good"] for row in rows],
        "bad": [row["bad"] for row in rows],
        "percent": [row["percent"] for row in rows],
        "opened": [row["opened"] for row in rows],
        "deflected": [row["deflected"] for row in rows],
        "severities": [row["label"] for row in severity_rows],
        "severity_percent": [row["percent"] for row in severity_rows],
        "agents": [row["agent"] for row in figures.by_agent],
        "agent_percent": [row["percent"] for row in figures.by_agent],
    }
    totals = {
        "good": sum(row["good"] for row in rows),
        "bad": sum(row["bad"] for row in rows),
        "opened": sum(row["opened"] for row in rows),
        "deflected": sum(row["deflected"] for row in rows),
    }
    rated = totals["good"] + totals["bad"]
    totals["percent"] = round(100 * totals["good"] / rated) if rated else None
    context = {
        **admin.site.each_context(request),
        "title": "Satisfaction and self-service",
        "weeks": weeks,
        "error": error,
        "rows": rows,
        "severity_rows": severity_rows,
        "agent_rows": figures.by_agent,
        "totals": totals,
        "chart_data": chart,
        "start": start_day,
        "end": today,
    }
    return TemplateResponse(request, "admin/tickets/satisfaction_dashboard.html", context)


#: The view, behind the console's sign-in (staff only) and the permission check above.
satisfaction_dashboard_view = admin.site.admin_view(_satisfaction_dashboard)
