"""The Agents group: the permissions a support agent needs in the console."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

AGENTS_GROUP = "Agents"

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


def ensure_agents_group(**kwargs) -> Group:
    """Create or refresh the Agents group (run after every migrate)."""
    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    permissions = []
    for app_label, codename in AGENT_PERMISSIONS:
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            permissions.append(permission)
    group.permissions.add(*permissions)
    return group
