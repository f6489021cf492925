"""Chat with support: the JSON endpoint behind the portal's chat panel.

`GET /portal/chat/` is the panel's state when it opens: the chat in progress (its ticket, its lines, the
event id to follow it from on the ticket's socket `/ws/tickets/<id>/`), the open tickets the customer may
continue on, the severities with their definitions, and what the panel promises ("An agent is online", or
"We'll answer by …" in the customer's time zone from the chart and the calendar).

`POST /portal/chat/` sends a line where the socket cannot: `ticket` (a reference) continues on one of
the customer's open tickets; without it the line opens a new conversation and `subject` and `severity`
are required. Bad input is a 400 `{"errors": {field: [text, ...]}}`; a line sent answers 201 with the
state. While the socket is up, the panel sends lines over it instead (`tickets.live.consumers`), through
the same service.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.access import customer_required
from portal.forms import ChatLineForm
from tickets import chats, services
from tickets.models import SEVERITY_DEFINITIONS, Severity, Ticket
from tickets.selectors import last_event_id


@never_cache
@customer_required
@require_http_methods(["GET", "POST"])
def chat(request):
    if request.method == "GET":
        return JsonResponse(state(request.user))
    form = ChatLineForm(request.POST)
    if not form.is_valid():
        return _errors(
            {
                field: [e["message"] for e in problems]
                for field, problems in form.errors.get_json_data().items()
            }
        )
    data = form.cleaned_data
    try:
        if data["ticket"]:
            ticket = Ticket.objects.visible_to(request.user).by_reference(data["ticket"]).first()
            if ticket is None:
                return _errors({"ticket": [f"You have no ticket {data['ticket']}; choose one of yours."]})
            services.chat_post(customer=request.user, ticket=ticket, body=data["body"])
        else:
            services.chat_start(
                customer=request.user, subject=data["subject"], severity=data["severity"], body=data["body"]
            )
    except ValidationError as exc:
        return _errors(exc.message_dict if hasattr(exc, "error_dict") else {"body": exc.messages})
    except PermissionDenied:
        return _errors({"ticket": ["You cannot chat on this ticket."]})
    return JsonResponse(state(request.user), status=201)


def state(customer) -> dict:
    """The panel's state for `customer` now (see the module's docstring)."""
    chat = chats.chat_in_progress(customer)
    ticket = chat.ticket if chat is not None else None
    after = last_event_id(ticket) if ticket is not None else 0  # before the lines: later ones come live
    return {
        "you": customer.get_full_name() or customer.get_username(),
        "ticket": _ticket(ticket) if ticket is not None else None,
        "after": after,
        "messages": chats.chat_lines(chat) if chat is not None else [],
        "open_tickets": [_ticket(t) for t in chats.tickets_to_continue(customer)],
        "availability": chats.availability(customer, ticket=ticket).as_json(),
        "severities": [
            {"code": s.value, "label": s.label, "definition": SEVERITY_DEFINITIONS[s]} for s in Severity
        ],
    }


def _ticket(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "severity": ticket.severity,
        "status": ticket.get_status_display(),
        "url": reverse("portal:ticket", args=[ticket.reference]),
        "socket": f"/ws/tickets/{ticket.pk}/",
        "poll": reverse("live:ticket_updates", args=[ticket.pk]),
    }


def _errors(errors: dict) -> JsonResponse:
    return JsonResponse(
        {
            "errors": {
                field: list(texts) if isinstance(texts, list | tuple) else [texts]
                for field, texts in errors.items()
            }
        },
        status=400,
    )
