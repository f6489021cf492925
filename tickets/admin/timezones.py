"""Agents read the console in their own time zone: activated for each of their requests under /admin/.
The zone is read once per session (kept in it) and set again when the agent changes it.

The zone is the agent's profile's (`AgentProfile`, set on the "Your time zone" page), else the default
business calendar's: a team in one office sees the office's clock without setting anything. Times on the
console's pages are labelled with it ("14:40 PST"); times a customer gave also show the customer's zone.
Customers get their organization's zone on the portal (portal/middleware.py).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from helpdesk.roles import is_agent
from tickets.agents import agent_timezone

#: Where the agent's zone is kept between requests: read once a session, not on every page.
SESSION_KEY = "agent_timezone"


class AgentTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        console = request.path.startswith("/admin/") and is_agent(user)
        if console:
            timezone.activate(_session_zone(request, user))
        try:
            return self.get_response(request)
        finally:
            if console:
                timezone.deactivate()


def _session_zone(request, user) -> ZoneInfo:
    """The agent's zone as the session keeps it, read (and kept) on the session's first console page."""
    name = request.session.get(SESSION_KEY)
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone the system no longer knows: read it again
    zone = agent_timezone(user)
    request.session[SESSION_KEY] = zone.key
    return zone
