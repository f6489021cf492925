"""Row locks for state changes: one place that decides how a ticket is locked."""

from tickets.models import Ticket


def ticket_lock(ticket_id: int) -> Ticket:
    """The ticket row, locked until the end of the surrounding transaction (a no-op lock on SQLite)."""
    return Ticket.objects.select_for_update(of=("self",)).get(pk=ticket_id)
