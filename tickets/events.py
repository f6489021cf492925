"""Writing the audit trail. Services call these; nothing else creates Event rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tickets.models import Event, Ticket


def event_record(
    *,
    ticket: Ticket,
    kind: Event.Kind,
    actor=None,
    at: datetime,
    from_value: Any = "",
    to_value: Any = "",
    data: dict | None = None,
) -> Event:
    return Event.objects.create(
        ticket=ticket,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        from_value=_text(from_value),
        to_value=_text(to_value),
        data=data or {},
        created_at=at,
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:200]
