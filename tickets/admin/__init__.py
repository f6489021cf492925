"""The agent console (Django admin): tickets, organizations and people, the audit trail, integrations,
and the SLA (plans, charts, calendars, on-call contacts, escalations); the agent's saved views and
notifications."""

from . import audit, integrations, people, sla, tickets, workspace  # noqa: F401 - importing registers the ModelAdmins
