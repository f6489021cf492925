"""The console's Chats queue: the chats in progress that wait for an agent, live, with an Accept action.

`/admin/tickets/ticket/chats/` lists them (unassigned first, then the oldest; `tickets.chats`) and follows
the agents' list socket (`/ws/tickets/`): at each new ticket, message, assignment or status event the page
asks `?format=json` for the rows again (never on a timer; while the socket cannot connect, live.js polls
the events at the server's interval). Accept (POST) assigns the chat's ticket to the agent through the
services and opens it.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from tickets import chats, selectors, services
from tickets.models import Chat

#: The most chats the queue shows at once (the oldest waiting; more is an incident of its own).
ROWS_SHOWN = 100


def queue_view(model_admin):
    @never_cache
    def view(request):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        live_after = selectors.last_event_id()  # before the rows are read: later events come live
        now = timezone.now()
        rows = [chats.queue_row(chat, now=now) for chat in chats.waiting_chats()[:ROWS_SHOWN]]
        if request.GET.get("format") == "json":
            return JsonResponse({"rows": rows})
        context = {
            **model_admin.admin_site.each_context(request),
            "title": "Chats waiting for an agent",
            "opts": model_admin.model._meta,
            "rows": rows,
            "live_after": live_after,
            "can_accept": model_admin.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/tickets/ticket/chats.html", context)

    return view


def accept_view(model_admin):
    def view(request, chat_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        chat = get_object_or_404(Chat.objects.select_related("ticket"), pk=chat_id)
        if not model_admin.has_change_permission(request, chat.ticket):
            raise PermissionDenied
        queue = reverse("admin:tickets_ticket_chats")
        try:
            services.chat_accept(agent=request.user, ticket=chat.ticket)
        except ValidationError as exc:
            problems = "; ".join(text for texts in exc.message_dict.values() for text in texts)
            model_admin.message_user(request, f"{chat.ticket.reference}: {problems}", messages.ERROR)
            return HttpResponseRedirect(queue)
        model_admin.message_user(request, f"You have the chat on {chat.ticket.reference}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:tickets_ticket_change", args=[chat.ticket_id]) + "#reply")

    return view
