"""Template tags of the agent console: the header's unread count."""

from __future__ import annotations

from django import template

from tickets import inbox
from tickets.permissions import is_agent

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> str:
    """The signed-in agent's unread notifications ('0' … '99+'); '' for anyone else. One capped count,
    unless the page counted it already (the ticket list, with its sidebar: `unread_label`)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not is_agent(user):
        return ""
    counted = context.get("unread_label")
    return counted if counted is not None else inbox.unread_label(inbox.unread_count(user))
