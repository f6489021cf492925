"""The agent console (Django admin): tickets, organizations and people, the audit trail, integrations,
and the SLA (plans, charts, calendars, on-call contacts, escalations); the agent's saved views and
notifications."""

from .widgets import use_labelled_widgets

use_labelled_widgets()  # before the ModelAdmins below are created

from . import audit, integrations, knowledge, people, sla, tickets, workspace  # noqa: E402, F401 - importing registers them
