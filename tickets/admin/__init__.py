"""The agent console (Django admin): tickets, organizations and people, the audit trail."""

from . import audit, integrations, people, tickets  # noqa: F401 - importing registers the ModelAdmins
