"""The agent console (Django admin): tickets, organizations and people, the audit trail, integrations,
and the SLA (plans, charts, calendars, on-call contacts, escalations)."""

from django.contrib import admin as _admin

from . import audit, integrations, people, sla, tickets  # noqa: F401 - importing registers the ModelAdmins

# "View site" in the console's header: the admin's default ("/") sends agents to the portal, which has
# nothing for staff and returns them to /admin/. What an agent wants from it is the site as customers see
# it without signing in: the public help page (how to file a ticket, what to include, the response
# targets), the page they point customers to.
_admin.site.site_url = "/support/help/"
