"""Every write to the ticket domain goes through these functions (see each module's docstring)."""

from .changes import (
    UNSET,
    ticket_assign,
    ticket_change_severity,
    ticket_change_status,
    ticket_take_next,
    ticket_update,
    ticket_update_details,
)
from .chats import chat_accept, chat_post, chat_start, chats_end_quiet, check_open_for_chat
from .checks import EDITABLE_FIELDS, INTAKE_FIELDS
from .conversation import attachment_add, ticket_add_note, ticket_reply
from .macros import macro_apply, macro_render
from .tickets import organization_apply_sla_policy, ticket_apply_sla_policy, ticket_create

__all__ = [
    "EDITABLE_FIELDS",
    "INTAKE_FIELDS",
    "UNSET",
    "attachment_add",
    "chat_accept",
    "chat_post",
    "chat_start",
    "chats_end_quiet",
    "check_open_for_chat",
    "macro_apply",
    "macro_render",
    "organization_apply_sla_policy",
    "ticket_add_note",
    "ticket_apply_sla_policy",
    "ticket_assign",
    "ticket_change_severity",
    "ticket_change_status",
    "ticket_create",
    "ticket_reply",
    "ticket_take_next",
    "ticket_update",
    "ticket_update_details",
]
