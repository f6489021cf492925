"""Every write to the ticket domain goes through these functions (see each module's docstring)."""

from .conversation import attachment_add, ticket_add_note, ticket_reply
from .tickets import (
    EDITABLE_FIELDS,
    INTAKE_FIELDS,
    ticket_assign,
    ticket_change_severity,
    ticket_change_status,
    ticket_create,
    ticket_update_details,
)

__all__ = [
    "EDITABLE_FIELDS",
    "INTAKE_FIELDS",
    "attachment_add",
    "ticket_add_note",
    "ticket_assign",
    "ticket_change_severity",
    "ticket_change_status",
    "ticket_create",
    "ticket_reply",
    "ticket_update_details",
]
