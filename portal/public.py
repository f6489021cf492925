"""Public pages: the response-target chart, what to include in a ticket (from the support FAQ), and the
support days off as an iCalendar feed."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from sla import ical
from sla.calendars import chart, policy
from sla.models import BusinessCalendar, Clock
from tickets.help_center import INFORMATION_ARTICLE
from tickets.models import Severity
from tickets.notifications import mail_domain
from tickets.permissions import customer_membership


def _target(minutes: int | None, clock: str) -> str:
    if minutes is None:
        return "—"
    if clock == Clock.ALWAYS:
        return f"{minutes} minutes, 24/7" if minutes < 120 else f"{minutes // 60} hours, 24/7"
    if minutes % 540 == 0:
        days = minutes // 540
        return f"{days} business day{'s' if days > 1 else ''}"
    if minutes % 60 == 0:
        return f"{minutes // 60} business hours"
    return f"{minutes} business minutes"


def response_targets(request):
    """The default policy's chart; a signed-in customer sees their organization's own policy."""
    membership = customer_membership(request.user)
    plan = policy(membership.organization.sla_policy_id if membership is not None else None)
    rows = []
    by_severity = chart(plan.pk)
    for severity in Severity:
        row = by_severity.get(severity)
        if row is None:
            continue
        update = _target(row.update_minutes, row.update_clock)
        rows.append(
            {
                "severity": severity.label,
                "code": severity.value,
                "definition": row.definition,
                "first_response": _target(row.first_response_minutes, row.first_response_clock),
                "update": update if row.update_minutes is None else f"every {update}",
                "resolution": _target(row.resolution_minutes, row.resolution_clock),
            }
        )
    calendar = BusinessCalendar.objects.filter(pk=plan.calendar_id).prefetch_related("hours").first()
    context = {"rows": rows, "calendar": calendar, "policy": plan, "own_policy": membership is not None}
    return render(request, "portal/response_targets.html", context)


def help_page(request):
    """What to include in a ticket is now a help-center article (seeded from the FAQ, edited in the
    console): the old address leads there."""
    return redirect("support:article", slug=INFORMATION_ARTICLE, permanent=True)


@require_safe
def holidays_ics(request):
    """The default calendar's days off, last year to two years ahead, for customers' calendar apps to
    subscribe to (they poll it; a day's cache is plenty for dates set months ahead)."""
    calendar = BusinessCalendar.objects.filter(is_default=True).first()
    if calendar is None:
        raise Http404("No default business calendar is configured.")
    year = timezone.localdate().year
    body = ical.days_off_calendar(calendar, years=range(year - 1, year + 3), domain=mail_domain())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="holidays.ics"'
    response["Cache-Control"] = "public, max-age=3600"
    return response
