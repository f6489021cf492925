"""Canned replies: fill a macro's placeholders for a ticket, and apply it through the services."""

from __future__ import annotations

from sla.promises import first_response_promise
from tickets.models import Macro, Message, Ticket
from tickets.services.conversation import ticket_add_note, ticket_reply


def macro_render(*, macro: Macro, ticket: Ticket, agent) -> str:
    """The macro's text with its placeholders filled for `ticket`; unknown or broken placeholders stay as
    they were written."""
    requester = ticket.requester
    promise = first_response_promise(list(ticket.sla_clocks.all()), ticket.organization.zoneinfo)
    values = {
        "requester_name": requester.first_name or requester.get_username(),
        "requester_full_name": requester.get_full_name() or requester.get_username(),
        "reference": ticket.reference,
        "subject": ticket.subject,
        "sla_promise": promise.text if promise else "",
        "agent_name": agent.get_full_name() or agent.get_username(),
        "agent_first_name": agent.first_name or agent.get_username(),
        "organization": ticket.organization.name,
    }
    try:
        return macro.body.format_map(_Keep(values))
    except (ValueError, IndexError, AttributeError):
        return macro.body


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def macro_apply(*, macro: Macro, ticket: Ticket, agent, body: str | None = None) -> Message:
    """Post the macro (or the agent's edited `body`) as a reply or note, then set its status, atomically."""
    text = body if body and body.strip() else macro_render(macro=macro, ticket=ticket, agent=agent)
    post = ticket_add_note if macro.internal else ticket_reply
    return post(ticket=ticket, author=agent, body=text, then_status=macro.set_status or None)
