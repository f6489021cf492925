"""Chat with support: a JSON endpoint the portal's chat panel polls and posts to.

A chat is a chat-channel ticket. The first message opens it; later ones are replies on it; an agent's
public reply (made in the console) shows in the panel at the next poll. No extra server is needed.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.access import customer_required
from portal.forms import ChatMessageForm
from portal.selectors import current_chat
from tickets import services
from tickets.models import Channel, Severity
from tickets.selectors import ticket_messages_after

#: How many messages one poll returns at most (the panel asks again for the rest).
MAX_MESSAGES = 100


@never_cache
@customer_required
@require_http_methods(["GET", "POST"])
def chat(request):
    if request.method == "POST":
        form = ChatMessageForm(request.POST)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        body = form.cleaned_data["body"].strip()
        ticket = current_chat(request.user)
        # A line that opens a new chat (none yet, or the last one was resolved) gets the whole new chat
        # back: the panel's `after` counts the previous chat's messages and would leave out the opening line.
        after = -1 if ticket is None else _after(request.POST.get("after"))
        try:
            if ticket is None:
                ticket = services.ticket_create(
                    requester=request.user,
                    subject=_subject(body),
                    description=body,
                    severity=Severity.S3,
                    channel=Channel.CHAT,
                )
            else:
                services.ticket_reply(ticket=ticket, author=request.user, body=body, channel=Channel.CHAT)
        except ValidationError as exc:
            return JsonResponse(
                {"errors": exc.message_dict if hasattr(exc, "error_dict") else exc.messages}, status=400
            )
        return JsonResponse(_state(ticket, request.user, after=after), status=201)
    return JsonResponse(
        _state(current_chat(request.user), request.user, after=_after(request.GET.get("after")))
    )


def _state(ticket, viewer, *, after: int) -> dict:
    if ticket is None:
        return {"ticket": None, "messages": []}
    lines = []
    if after < 0:  # the opening message is the ticket's description
        lines.append(_line(0, "customer", ticket.requester, ticket.description, ticket.created_at))
    for message in ticket_messages_after(ticket, viewer=viewer, after=max(after, 0))[:MAX_MESSAGES]:
        lines.append(_line(message.pk, message.author_role, message.author, message.body, message.created_at))
    return {
        "ticket": {
            "reference": ticket.reference,
            "status": ticket.get_status_display(),
            "url": f"/portal/tickets/{ticket.reference}/",
        },
        "messages": lines,
    }


def _line(pk, role, author, body, created_at) -> dict:
    name = (author.get_full_name() or author.get_username()) if author else "Support"
    return {"id": pk, "role": role, "author": name, "body": body, "created_at": created_at.isoformat()}


def _after(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _subject(body: str) -> str:
    first_line = body.splitlines()[0] if body else "Chat"
    return f"Chat: {first_line[:80]}"
