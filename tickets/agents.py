"""The Agents and Team leads groups: the permissions a support agent (and a lead) needs in the console,
and the time zone an agent works in."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, Permission

from helpdesk.timezones import DEFAULT_TIMEZONE
from sla.models import BusinessCalendar
from tickets.models import AgentProfile

AGENTS_GROUP = "Agents"
LEADS_GROUP = "Team leads"

#: (app label, codename) pairs. Agents read the audit trail but never change or delete it.
AGENT_PERMISSIONS = [
    ("tickets", "view_ticket"),
    ("tickets", "add_ticket"),
    ("tickets", "change_ticket"),
    ("tickets", "view_message"),
    ("tickets", "view_attachment"),
    ("tickets", "view_event"),
    ("tickets", "view_candidate"),
    ("tickets", "view_inboundemail"),
    ("tickets", "view_organization"),
    ("tickets", "view_membership"),
    # Canned replies: every agent keeps personal ones (the console limits them to their own) and reads
    # the shared ones; writing a shared one takes `share_macro` (team leads).
    ("tickets", "view_macro"),
    ("tickets", "add_macro"),
    ("tickets", "change_macro"),
    ("tickets", "delete_macro"),
    # The help center: agents write the articles; they read the satisfaction ratings, never edit them.
    ("tickets", "view_article"),
    ("tickets", "add_article"),
    ("tickets", "change_article"),
    ("tickets", "delete_article"),
    ("tickets", "view_articlecategory"),
    ("tickets", "add_articlecategory"),
    ("tickets", "change_articlecategory"),
    ("tickets", "view_satisfactionrating"),
    ("sla", "view_responsetarget"),
    ("sla", "view_businesscalendar"),
    ("sla", "view_businesshours"),
    ("sla", "view_holiday"),
    ("sla", "view_escalation"),
    ("sla", "view_escalationdelivery"),
    ("sla", "view_escalationcontact"),
    ("sla", "view_ticketclock"),
]


#: What a team lead has on top of an agent's permissions (leads are in both groups).
LEAD_PERMISSIONS = [("tickets", "share_macro")]


def ensure_agents_group(**kwargs) -> Group:
    """Create or refresh the Agents and Team leads groups (run after every migrate); the Agents group."""
    _ensure_group(LEADS_GROUP, LEAD_PERMISSIONS)
    return _ensure_group(AGENTS_GROUP, AGENT_PERMISSIONS)


def ensure_leads_group() -> Group:
    """The Team leads group, created or refreshed."""
    return _ensure_group(LEADS_GROUP, LEAD_PERMISSIONS)


def _ensure_group(name: str, codenames: list[tuple[str, str]]) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    permissions = []
    for app_label, codename in codenames:
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            permissions.append(permission)
    group.permissions.add(*permissions)
    return group


def may_share_macros(user) -> bool:
    """Whether `user` writes the canned replies every agent is offered (team leads, superusers)."""
    return user.has_perm("tickets.share_macro")


def default_agent_timezone() -> str:
    """The zone of an agent who chose none: the default business calendar's (the team's working day)."""
    zone = BusinessCalendar.objects.filter(is_default=True).values_list("timezone", flat=True).first()
    return zone or DEFAULT_TIMEZONE


def agent_timezone(user) -> ZoneInfo:
    """The zone `user` reads the console in: their profile's, else the business calendar's. One query
    (two without a profile), once per user object: a live connection keeps its user for every event."""
    cached = getattr(user, "_agent_timezone", None)
    if cached is None:
        zone = AgentProfile.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first()
        cached = ZoneInfo(zone or default_agent_timezone())
        user._agent_timezone = cached
    return cached


def set_agent_timezone(user, zone: str) -> AgentProfile:
    """Record the zone `user` reads the console in (an offered IANA name; validated here)."""
    profile = AgentProfile(user=user, timezone=zone)
    profile.full_clean(exclude=["user"], validate_unique=False)
    profile, _ = AgentProfile.objects.update_or_create(user=user, defaults={"timezone": zone})
    user._agent_timezone = profile.zoneinfo
    return profile
