"""Template tags of the agent console: the header's unread count, the queue's row links."""

from __future__ import annotations

from django import template
from django.urls import reverse

from tickets import inbox
from tickets.permissions import is_agent

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> str:
    """The signed-in agent's unread notifications ('0' … '99+'); '' for anyone else. One capped count."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not is_agent(user):
        return ""
    return inbox.unread_label(inbox.unread_count(user))


@register.simple_tag
def ticket_rows(cl, results) -> list[tuple[str, int, object]]:
    """The queue's result rows with each ticket's page address (the rows' `data-row-link`, which the
    keyboard shortcuts and a click on the row follow)."""
    return [
        (reverse("admin:tickets_ticket_change", args=[ticket.pk]), ticket.pk, result)
        for ticket, result in zip(cl.result_list, results, strict=False)
    ]
