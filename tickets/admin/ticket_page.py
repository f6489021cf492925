"""The ticket page as an agent's workspace: the header (reference, subject, severity, status, assignee, SLA
countdowns), the conversation and the reply box first; the intake in a side panel; the audit trail as a
collapsible timeline.

Nothing on the page is one big form. Each thing an agent changes has a small form of its own (severity,
status, assignee, subject and description, each intake group) that posts to `edit_view`, which makes the
change with one `services.ticket_update` call: validated, audited and followed by its side effects like
every other change. A refused change comes back with what was typed (kept in the session for one page
load) and the error next to the field, the form open.

The customer profile (`customer_view`) is where the requester link leads: the person, their organization,
their open and recent tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme

from helpdesk.roles import agents, is_agent
from sla.display import clock_status, countdown_html, ticket_sla_html
from tickets import intake, satisfaction, selectors, services
from tickets.admin import timezones
from tickets.admin.forms import (
    AssigneeForm,
    CandidateFormSet,
    DetailsForm,
    ReplyForm,
    SeverityForm,
    StatusForm,
    intake_group_form,
)
from tickets.agents import default_agent_timezone, set_agent_timezone
from tickets.forms import TimezoneField
from tickets.models import Membership, Ticket

#: The sections of the page an agent edits, each its own small form.
TRIAGE_SECTIONS = ("severity", "status", "assignee", "details")
INTAKE_SECTIONS = tuple(group.key for group in intake.GROUPS)
SECTIONS = TRIAGE_SECTIONS + INTAKE_SECTIONS

#: How many of a customer's tickets their profile lists (open ones, then the most recent others).
PROFILE_TICKETS_SHOWN = 25


# --- times: the agent's zone, labelled; the customer's beside it where the customer wrote it -----------


def agent_time(instant: datetime | None, fmt: str = "M j, H:i T") -> str:
    """`instant` in the zone the console is shown in (activated per agent), labelled: 'Dec 4, 06:40 PST'."""
    if instant is None:
        return "—"
    return date_format(timezone.localtime(instant), fmt)


def dual_time(instant: datetime | None, customer_zone: ZoneInfo) -> str:
    """A time the customer gave, as they see it and as the agent does:
    'Dec 4, 09:40 America/New York — 06:40 PST yours' (one zone only when both are the same)."""
    if instant is None:
        return "—"
    theirs = instant.astimezone(customer_zone)
    mine = timezone.localtime(instant)
    label = customer_zone.key.replace("_", " ")
    if theirs.utcoffset() == mine.utcoffset() and customer_zone.key == timezone.get_current_timezone_name():
        return f"{date_format(theirs, 'M j, H:i')} {label}"
    yours = date_format(mine, "H:i T" if theirs.date() == mine.date() else "M j, H:i T")
    return f"{date_format(theirs, 'M j, H:i')} {label} — {yours} yours"


# --- the page's context ----------------------------------------------------------------------------


@dataclass
class IntakeSection:
    """One intake group in the side panel: its answers as read, and the form that edits them."""

    group: intake.IntakeGroup
    rows: list[tuple[str, str]]
    form: object
    formset: object | None
    open: bool
    edit_url: str

    @property
    def key(self) -> str:
        return self.group.key

    @property
    def empty(self) -> bool:
        return all(value == "—" for _, value in self.rows)


def page_context(request, ticket: Ticket) -> dict:
    """Everything the workspace shows, in a number of queries that does not grow with the messages."""
    now = timezone.now()
    customer_zone = ticket.organization.zoneinfo
    drafts = request.session.pop(_edit_draft_key(ticket.pk), {})
    agent_list = agents().order_by("first_name", "last_name", "username")
    candidates = list(ticket.candidates.order_by("pk"))
    clocks = list(ticket.sla_clocks.all())  # prefetched by TicketAdmin.get_queryset
    draft = request.session.pop(reply_draft_key(ticket.pk), {})
    macros = list(selectors.active_macros(request.user))

    def bound(section: str, form_class, **kwargs):
        data = drafts.get(section)
        return form_class(data, **kwargs) if data is not None else form_class(**kwargs)

    triage = {
        "severity": bound("severity", SeverityForm, ticket=ticket),
        "status": bound("status", StatusForm, ticket=ticket),
        "assignee": bound("assignee", AssigneeForm, ticket=ticket, agents=agent_list),
        "details": bound("details", DetailsForm, instance=ticket),
    }
    for section, form in triage.items():
        if form.is_bound:
            form.is_valid()  # shows the errors it was refused with
            _add_service_errors(form, drafts.get(f"{section}:errors"))

    sections = []
    for group in intake.GROUPS:
        form_class = intake_group_form(group, zone=customer_zone)
        data = drafts.get(group.key)
        form = form_class(data, instance=ticket) if data is not None else form_class(instance=ticket)
        formset = None
        if group is intake.INTERVIEW:
            initial = [{"name": c.name, "email": c.email} for c in candidates]
            formset = (
                CandidateFormSet(data, prefix="candidates", initial=initial)
                if data is not None
                else CandidateFormSet(prefix="candidates", initial=initial)
            )
        if data is not None:
            form.is_valid()
            if formset is not None:
                formset.is_valid()
            _add_service_errors(form, drafts.get(f"{group.key}:errors"))
        sections.append(
            IntakeSection(
                group=group,
                rows=_intake_rows(ticket, group, customer_zone, candidates),
                form=form,
                formset=formset,
                open=data is not None,
                edit_url=reverse("admin:tickets_ticket_edit", args=[ticket.pk, group.key]),
            )
        )

    return {
        "workspace": True,
        "customer_zone": customer_zone.key.replace("_", " "),
        "customer_now": date_format(now.astimezone(customer_zone), "H:i"),
        "agent_zone": timezone.get_current_timezone_name().replace("_", " "),
        "agent_zone_name": timezone.get_current_timezone_name(),
        "triage": triage,
        "triage_open": {section for section in TRIAGE_SECTIONS if section in drafts},
        "intake_sections": sections,
        "candidates": candidates,
        "conversation": selectors.ticket_conversation(ticket, viewer=request.user),
        "ticket_files": selectors.ticket_files(ticket),
        "audit_trail": selectors.ticket_timeline(ticket, viewer=request.user),
        "sla_clocks": [
            {"clock": clock, "status": clock_status(clock, now), "badge": countdown_html(clock, now)}
            for clock in clocks
        ],
        "sla_policy": ticket.sla_policy,
        "reply_form": ReplyForm(initial=draft, macros=macros),
        "macro_texts": [
            {
                "id": str(macro.pk),
                "name": macro.name,
                "body": services.macro_render(macro=macro, ticket=ticket, agent=request.user),
                "internal": macro.internal,
                "status": macro.set_status,
                "shared": macro.shared,
            }
            for macro in macros
        ],
        "canned_replies_url": reverse("admin:tickets_macro_changelist"),
        "requester_tickets": selectors.requester_tickets(ticket),
        "organization_open": selectors.organization_open_tickets(ticket),
        "customer_url": reverse("admin:tickets_customer", args=[ticket.requester_id]),
        "reply_url": reverse("admin:tickets_ticket_reply", args=[ticket.pk]),
        "edit_urls": {
            section: reverse("admin:tickets_ticket_edit", args=[ticket.pk, section]) for section in SECTIONS
        },
        "me": request.user,
        "live_socket": f"/ws/tickets/{ticket.pk}/",
        "live_poll_url": reverse("live:ticket_updates", args=[ticket.pk]),
    }


def _add_service_errors(form, errors: dict | None) -> None:
    """Put the errors the service refused the change with next to their fields (or above the form)."""
    for field, problems in (errors or {}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _intake_rows(
    ticket: Ticket, group: intake.IntakeGroup, zone: ZoneInfo, candidates
) -> list[tuple[str, str]]:
    rows = []
    for entry in group.fields:
        model_field = Ticket._meta.get_field(entry.name)
        value = getattr(ticket, entry.name)
        if isinstance(value, datetime):
            shown = dual_time(value, zone)
        elif model_field.choices:
            shown = getattr(ticket, f"get_{entry.name}_display")() or "—"
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value) or "—"
        else:
            shown = value or "—"
        rows.append((str(model_field.verbose_name).capitalize(), shown))
    if group is intake.INTERVIEW:
        shown = "; ".join(
            f"{c.name} <{c.email}>" if c.name and c.email else c.name or c.email for c in candidates
        )
        rows.append(("Candidates", shown or "—"))
    return rows


# --- changes, one small form at a time ---------------------------------------------------------------


def edit_view(modeladmin, request, object_id: int, section: str):
    """Apply one small form of the ticket page through `services.ticket_update`."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if section not in SECTIONS:
        raise Http404("No such part of the ticket.")
    ticket = get_object_or_404(Ticket.objects.select_related("organization"), pk=object_id)
    if not modeladmin.has_change_permission(request, ticket):
        raise PermissionDenied
    page = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    anchor = f"#{'intake-' + section if section in INTAKE_SECTIONS else section}"
    form, formset, change = _bound_change(request, ticket, section)
    valid = form.is_valid() and (formset is None or formset.is_valid())
    if valid:
        try:
            services.ticket_update(ticket=ticket, actor=request.user, **change(form, formset))
        except ValidationError as exc:
            return _refused(request, ticket, section, exc.message_dict, page + anchor)
        modeladmin.message_user(request, _saved_message(section, ticket), messages.SUCCESS)
        return HttpResponseRedirect(page + anchor)
    return _refused(request, ticket, section, {}, page + anchor)


def _bound_change(request, ticket: Ticket, section: str):
    """The form for `section` bound to the request, its formset (candidates) and how its data becomes the
    arguments of `ticket_update`."""
    data = request.POST
    if section == "severity":
        return SeverityForm(data, ticket=ticket), None, lambda f, _: {"severity": f.cleaned_data["severity"]}
    if section == "status":
        return StatusForm(data, ticket=ticket), None, lambda f, _: {"status": f.cleaned_data["status"]}
    if section == "assignee":
        form = AssigneeForm(data, ticket=ticket, agents=agents())
        return form, None, lambda f, _: {"assignee": f.cleaned_data["assignee"]}
    if section == "details":
        form = DetailsForm(data, instance=Ticket(subject=ticket.subject, description=ticket.description))
        return form, None, lambda f, _: {"details": {k: f.cleaned_data[k] for k in f.changed_data}}
    group = next(g for g in intake.GROUPS if g.key == section)
    form_class = intake_group_form(group, zone=ticket.organization.zoneinfo)
    # A detached copy: the form's validation writes the typed values into its instance, and the service
    # reads and locks the row itself.
    form = form_class(data, instance=Ticket.objects.get(pk=ticket.pk))
    formset = None
    if group is intake.INTERVIEW:
        initial = list(ticket.candidates.order_by("pk").values("name", "email"))
        formset = CandidateFormSet(data, prefix="candidates", initial=initial)

    def change(form, formset):
        details = {name: form.cleaned_data[name] for name in form.changed_data}
        candidates = None
        if formset is not None and formset.has_changed():
            candidates = [
                {"name": f.cleaned_data.get("name", ""), "email": f.cleaned_data.get("email", "")}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
        return {"details": details or None, "candidates": candidates}

    return form, formset, change


def _refused(request, ticket: Ticket, section: str, errors: dict, url: str):
    """Back to the page with what was typed and why it was refused, the form open."""
    drafts = request.session.get(_edit_draft_key(ticket.pk), {})
    drafts[section] = {
        key: request.POST.getlist(key) if len(request.POST.getlist(key)) > 1 else value
        for key, value in request.POST.items()
        if key != "csrfmiddlewaretoken"
    }
    if errors:
        drafts[f"{section}:errors"] = {key: list(value) for key, value in errors.items()}
    request.session[_edit_draft_key(ticket.pk)] = drafts
    messages.error(request, "Nothing was changed: see the form below.")
    return HttpResponseRedirect(url)


def _saved_message(section: str, ticket: Ticket) -> str:
    ticket.refresh_from_db(fields=["severity", "status", "assignee"])
    if section == "severity":
        return f"{ticket.reference} is now {ticket.get_severity_display()}."
    if section == "status":
        return f"{ticket.reference} is now {ticket.get_status_display().lower()}."
    if section == "assignee":
        who = ticket.assignee
        return (
            f"{ticket.reference} is assigned to {who.get_full_name() or who.get_username()}."
            if who
            else (f"{ticket.reference} is unassigned.")
        )
    if section == "details":
        return f"Subject and description of {ticket.reference} saved."
    title = next(g.title for g in intake.GROUPS if g.key == section)
    return f"{title} of {ticket.reference} saved."


def _edit_draft_key(ticket_id: int) -> str:
    return f"edit-drafts-{ticket_id}"


def reply_draft_key(ticket_id: int) -> str:
    return f"reply-draft-{ticket_id}"


# --- the customer profile --------------------------------------------------------------------------


def customer_view(modeladmin, request, user_id: int):
    """A customer as agents see them: contact, organization, open and recent tickets. Staff only."""
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    membership = get_object_or_404(Membership.objects.select_related("user", "organization"), user_id=user_id)
    customer = membership.user
    tickets = (
        Ticket.objects.filter(requester=customer).select_related("assignee").prefetch_related("sla_clocks")
    )
    open_tickets = list(tickets.open().in_queue_order())
    recent = list(
        satisfaction.with_current_rating(tickets.exclude(pk__in=[t.pk for t in open_tickets]))
        .prefetch_related(None)
        .order_by("-created_at")[:PROFILE_TICKETS_SHOWN]
    )
    now = timezone.now()
    zone = membership.organization.zoneinfo
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": customer.get_full_name() or customer.get_username(),
        "customer": customer,
        "membership": membership,
        "organization": membership.organization,
        "customer_zone": zone.key.replace("_", " "),
        "customer_now": date_format(now.astimezone(zone), "H:i"),
        "open_tickets": [(t, ticket_sla_html(t.sla_clocks.all(), now)) for t in open_tickets],
        "recent_tickets": recent,
        "ticket_count": tickets.count(),
        "organization_tickets_url": reverse("admin:tickets_ticket_changelist")
        + f"?organization__id__exact={membership.organization_id}",
        "opts": Ticket._meta,
    }
    return TemplateResponse(request, "admin/tickets/customer.html", context)


# --- the agent's own time zone ------------------------------------------------------------------------


class AgentTimezoneForm(forms.Form):
    timezone = TimezoneField(label="Your time zone")


def timezone_view(modeladmin, request):
    """Where an agent picks the zone the console shows times in."""
    if not is_agent(request.user):
        raise PermissionDenied
    current = timezone.get_current_timezone_name()
    form = AgentTimezoneForm(request.POST or None, initial={"timezone": current})
    if request.method == "POST" and form.is_valid():
        set_agent_timezone(request.user, form.cleaned_data["timezone"])
        request.session[timezones.SESSION_KEY] = form.cleaned_data["timezone"]
        zone = form.cleaned_data["timezone"].replace("_", " ")
        modeladmin.message_user(request, f"Times in the console are now shown in {zone}.", messages.SUCCESS)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:tickets_agent_timezone")
        return HttpResponseRedirect(back)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Your time zone",
        "form": form,
        "now": date_format(timezone.localtime(), "H:i T"),
        "default_zone": default_agent_timezone().replace("_", " "),
        "next": request.GET.get("next", ""),
        "opts": Ticket._meta,
    }
    return TemplateResponse(request, "admin/tickets/agent_timezone.html", context)
