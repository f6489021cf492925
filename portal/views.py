"""The portal's pages: My tickets, a ticket (conversation, reply, resolve, reopen) and the new-ticket form.

Views are thin: they check who asks, validate a form, and call one service.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.paging import CappedPaginator
from portal import selectors
from portal.access import customer_required
from portal.forms import PRODUCT_AREAS, CandidateFormSet, NewTicketForm, ReplyForm
from portal.help_center import portal_rate
from sla.promises import promises
from tickets import knowledge, satisfaction, services
from tickets import search as ticket_search
from tickets import selectors as ticket_selectors
from tickets.models import SEVERITY_DEFINITIONS, Channel, Event, Rating, Severity, Status
from tickets.services import INTAKE_FIELDS
from tickets.workflow import allowed_statuses

PAGE_SIZE = 20


@customer_required
def ticket_list(request):
    membership = request.membership
    live_after = ticket_selectors.last_event_id()  # before the reads: later events come live
    scope = request.GET.get("scope", "mine")
    if not membership.is_admin:
        scope = "mine"
    filters = {
        "status": request.GET.get("status", ""),
        "severity": request.GET.get("severity", ""),
        "query": request.GET.get("q", ""),
    }
    tickets = selectors.customer_tickets(request.user, scope=scope, **filters)
    page = CappedPaginator(tickets, PAGE_SIZE, cap=PAGE_SIZE * 50).get_page(request.GET.get("page"))
    if filters["query"].strip():
        ticket_search.attach_snippets(page.object_list, filters["query"], viewer=request.user)
    tz = membership.organization.zoneinfo
    rows = [(ticket, _first_promise(ticket, tz)) for ticket in page.object_list]
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(
        request,
        "portal/ticket_list.html",
        {
            "page": page,
            "rows": rows,
            "scope": scope,
            "filters": filters,
            "query_string": query_string.urlencode(),
            "statuses": [("open", "Open (any)"), *Status.choices],
            "severities": Severity.choices,
            "is_org_admin": membership.is_admin,
            "live_after": live_after,
        },
    )


def _first_promise(ticket, tz):
    lines = promises(list(ticket.sla_clocks.all()), tz, status=ticket.status)
    return lines[0] if lines else None


@customer_required
@require_http_methods(["GET", "POST"])
def ticket_new(request):
    if request.method == "POST":
        form = NewTicketForm(request.POST, request.FILES)
        candidates = CandidateFormSet(request.POST, prefix="candidates")
        if form.is_valid() and candidates.is_valid():
            try:
                ticket = services.ticket_create(
                    requester=request.user,
                    subject=form.cleaned_data["subject"],
                    description=form.cleaned_data["description"],
                    severity=form.cleaned_data["severity"],
                    channel=Channel.PORTAL,
                    intake={
                        name: form.cleaned_data[name] for name in INTAKE_FIELDS if name in form.cleaned_data
                    },
                    candidates=[c for c in candidates.cleaned_data if c],
                    attachments=form.cleaned_data["attachments"],
                )
            except ValidationError as exc:
                _errors_onto(form, exc)
            else:
                # Articles opened from the suggestions did not answer, since the customer filed anyway.
                knowledge.deflections_withdraw(ticket=ticket)
                messages.success(request, f"Thanks — we received {ticket.reference}.")
                return redirect("portal:ticket", reference=ticket.reference)
        if form.errors.get("attachments") or request.FILES:
            messages.warning(
                request, "Browsers do not keep chosen files when a form comes back: attach them again."
            )
    else:
        form = NewTicketForm()
        candidates = CandidateFormSet(prefix="candidates")
    return render(
        request,
        "portal/ticket_new.html",
        {"form": form, "candidates": candidates, "product_areas": PRODUCT_AREAS},
    )


@customer_required
def ticket_detail(request, reference: str):
    live_after = ticket_selectors.last_event_id()  # before the ticket is read: later events come live
    ticket = _ticket_or_404(request, reference)
    return _render_ticket(request, ticket, ReplyForm(), live_after=live_after)


@customer_required
@require_POST
def ticket_reply(request, reference: str):
    ticket = _ticket_or_404(request, reference)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.ticket_reply(
                ticket=ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                channel=Channel.PORTAL,
                attachments=form.cleaned_data["attachments"],
            )
        except ValidationError as exc:
            _errors_onto(form, exc)
        else:
            messages.success(request, "Your reply was sent.")
            return redirect(reverse("portal:ticket", args=[ticket.reference]) + "#conversation")
    return _render_ticket(request, ticket, form, status=400)


@customer_required
@require_POST
def ticket_rate(request, reference: str):
    """The ticket page's "How did we do?" banner: the requester rates the resolution."""
    ticket = _ticket_or_404(request, reference)
    comment = request.POST.get("comment") if "comment" in request.POST else None
    portal_rate(request, ticket, request.POST.get("rating", ""), comment)
    return redirect(reverse("portal:ticket", args=[ticket.reference]) + "#satisfaction")


@customer_required
@require_POST
def ticket_set_status(request, reference: str, action: str):
    """ "This is resolved" and "Reopen": the two moves a customer may make."""
    ticket = _ticket_or_404(request, reference)
    status = {"resolve": Status.RESOLVED, "reopen": Status.OPEN}.get(action)
    if status is None:
        raise Http404
    try:
        services.ticket_change_status(ticket=ticket, actor=request.user, status=status)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        raise Http404 from exc
    else:
        done = "marked resolved — thank you" if status == Status.RESOLVED else "reopened"
        messages.success(request, f"{ticket.reference} was {done}.")
    return redirect("portal:ticket", reference=ticket.reference)


def _ticket_or_404(request, reference: str):
    ticket = selectors.customer_ticket(request.user, reference)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def _render_ticket(request, ticket, reply_form, status: int = 200, live_after: int | None = None):
    if live_after is None:
        live_after = ticket_selectors.last_event_id(ticket)
    tz = request.membership.organization.zoneinfo
    allowed = allowed_statuses(ticket.status, by_agent=False)
    return render(
        request,
        "portal/ticket_detail.html",
        {
            "ticket": ticket,
            "severity_definition": SEVERITY_DEFINITIONS[Severity(ticket.severity)],
            "promises": promises(list(ticket.sla_clocks.all()), tz, status=ticket.status),
            "conversation": ticket_selectors.ticket_conversation(ticket, viewer=request.user),
            "files": ticket_selectors.ticket_files(ticket),
            # The status box: the replies the customer may see are in the conversation beside it.
            "timeline": ticket_selectors.ticket_timeline(ticket, viewer=request.user).exclude(
                kind=Event.Kind.REPLIED
            ),
            "candidates": ticket.candidates.all(),
            "reply_form": reply_form,
            "can_resolve": Status.RESOLVED in allowed,
            "can_reopen": Status.OPEN in allowed,
            "is_closed": ticket.status == Status.CLOSED,
            "timezone_name": tz.key.replace("_", " "),
            "live_after": live_after,
            # "How did we do?" for the requester once it is resolved (tickets/satisfaction.py).
            "ask_rating": satisfaction.can_be_rated(ticket) and ticket.requester_id == request.user.pk,
            "rating": satisfaction.current_rating(ticket) if ticket.resolved_at else None,
            "rating_choices": Rating.choices,
        },
        status=status,
    )


def _errors_onto(form, exc: ValidationError) -> None:
    """Put a service's validation errors on the form's fields (or on the form when no field matches)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
