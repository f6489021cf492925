"""The agent console (Django admin): tickets, organizations and people, the audit trail, integrations,
and the SLA (plans, charts, calendars, on-call contacts, escalations)."""

from . import audit, integrations, knowledge, people, sla, tickets  # noqa: F401 - importing registers the ModelAdmins
