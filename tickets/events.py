"""The event spine's vocabulary: one typed constructor per kind of thing that happens to a ticket.

Services call these inside their transaction; nothing else creates `Event` rows. Each constructor takes
typed arguments, builds the kind's payload (a frozen dataclass below), writes the audit row and hands it
to the dispatcher (`tickets.spine`), which fans it out to the subscribers: the webhook outbox and the
notification emails in the same transaction, live updates after commit (`tickets/subscribers.py`).

Readers never pick keys out of `Event.data` by hand: `payload_of(event)` gives the typed payload back,
for rows written before the payloads were typed too. Who may see which kind is decided once, on the
model (`Event.PUBLIC_KINDS`, `Event.is_internal`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from tickets import spine
from tickets.models import Event, Ticket

Kind = Event.Kind


class Payload:
    """A kind's typed payload, stored as the row's from_value, to_value and data."""

    KINDS: ClassVar[tuple[str, ...]]
    FROM: ClassVar[str | None] = None  # the field shown as from_value in the timeline
    TO: ClassVar[str | None] = None  # the field shown as to_value

    @property
    def kind(self) -> str:
        return self.KINDS[0]

    def row(self) -> tuple[Any, Any, dict]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        from_value = values.pop(self.FROM) if self.FROM else ""
        to_value = values.pop(self.TO) if self.TO else ""
        return from_value, to_value, {k: v for k, v in values.items() if v not in (None, "", ())}

    @classmethod
    def from_event(cls, event: Event) -> Payload:
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name == cls.FROM:
                values[field.name] = event.from_value
            elif field.name == cls.TO:
                values[field.name] = event.to_value
            elif field.name in event.data:
                values[field.name] = event.data[field.name]
        return cls(**values)


@dataclass(frozen=True)
class TicketCreated(Payload):
    KINDS = (Kind.CREATED,)
    TO = "severity"
    severity: str
    channel: str = ""


@dataclass(frozen=True)
class MessageAdded(Payload):
    KINDS = (Kind.REPLIED, Kind.NOTE_ADDED)
    message_id: int
    internal: bool = False
    #: Whether an agent wrote it: known to the subscribers of a fresh event; None when read back from the
    #: row (the message's `author_role` says).
    by_agent: bool | None = None

    @property
    def kind(self) -> str:
        return Kind.NOTE_ADDED if self.internal else Kind.REPLIED

    def row(self) -> tuple[Any, Any, dict]:
        return "", "", {"message_id": self.message_id}  # the kind says whether it is internal

    @classmethod
    def from_event(cls, event: Event) -> MessageAdded:
        return cls(message_id=event.data.get("message_id"), internal=event.kind == Kind.NOTE_ADDED)


@dataclass(frozen=True)
class StatusChanged(Payload):
    KINDS = (Kind.STATUS_CHANGED,)
    FROM, TO = "previous", "current"
    previous: str
    current: str
    #: Why the helpdesk changed it by itself ("agent_reply", "customer_reply", …); empty when a person chose.
    reason: str = ""


@dataclass(frozen=True)
class SeverityChanged(Payload):
    KINDS = (Kind.SEVERITY_CHANGED,)
    FROM, TO = "previous", "current"
    previous: str
    current: str


@dataclass(frozen=True)
class Assigned(Payload):
    KINDS = (Kind.ASSIGNED,)
    FROM, TO = "previous_name", "current_name"
    previous_name: str
    current_name: str
    previous_id: int | None = None
    current_id: int | None = None

    def row(self) -> tuple[Any, Any, dict]:
        # Both ids are kept, None included: "unassigned" is an answer.
        return self.previous_name, self.current_name, {"from_id": self.previous_id, "to_id": self.current_id}

    @classmethod
    def from_event(cls, event: Event) -> Assigned:
        return cls(
            previous_name=event.from_value,
            current_name=event.to_value,
            previous_id=event.data.get("from_id"),
            current_id=event.data.get("to_id"),
        )


@dataclass(frozen=True)
class DetailsChanged(Payload):
    KINDS = (Kind.INTAKE_UPDATED,)
    fields: tuple[str, ...] | list[str]

    def row(self) -> tuple[Any, Any, dict]:
        return "", "", {"fields": list(self.fields)}


@dataclass(frozen=True)
class AttachmentAdded(Payload):
    KINDS = (Kind.ATTACHMENT_ADDED,)
    TO = "name"
    name: str
    attachment_id: int | None = None
    internal: bool = False

    def row(self) -> tuple[Any, Any, dict]:
        return "", self.name, {"attachment_id": self.attachment_id, "internal": self.internal}


@dataclass(frozen=True)
class SlaPolicyChanged(Payload):
    KINDS = (Kind.SLA_POLICY_CHANGED,)
    FROM, TO = "previous", "current"
    previous: str
    current: str


@dataclass(frozen=True)
class SlaMet(Payload):
    KINDS = (Kind.SLA_MET,)
    TO = "metric"
    metric: str
    cycle: int = 0


@dataclass(frozen=True)
class EscalationFired(Payload):
    """An escalation of the SLA engine: the S1 page (ESCALATED), an at-risk warning, a breach."""

    KINDS = (Kind.ESCALATED, Kind.SLA_AT_RISK, Kind.SLA_BREACHED)
    TO = "metric"
    metric: str
    level: str
    escalation_id: int
    cycle: int = 0

    #: The SLA engine's escalation levels (sla.models.Level) and the event kind each is recorded as.
    LEVELS: ClassVar[dict[str, str]] = {
        "page": Kind.ESCALATED,
        "at_risk": Kind.SLA_AT_RISK,
        "breach": Kind.SLA_BREACHED,
    }

    @property
    def kind(self) -> str:
        return self.LEVELS[self.level]

    def row(self) -> tuple[Any, Any, dict]:
        data = {"level": self.level, "escalation_id": self.escalation_id, "cycle": self.cycle}
        return "", self.metric, data


@dataclass(frozen=True)
class SatisfactionRated(Payload):
    KINDS = (Kind.SATISFACTION_RATED,)
    TO = "rating"
    rating: str
    comment: str = ""


_PAYLOADS: dict[str, type[Payload]] = {
    kind: payload
    for payload in (
        TicketCreated,
        MessageAdded,
        StatusChanged,
        SeverityChanged,
        Assigned,
        DetailsChanged,
        AttachmentAdded,
        SlaPolicyChanged,
        SlaMet,
        EscalationFired,
        SatisfactionRated,
    )
    for kind in payload.KINDS
}


def payload_of(event: Event) -> Payload:
    """The typed payload of a recorded event: as constructed, for an event just recorded (subscribers),
    else read back from its row."""
    payload = getattr(event, "_payload", None)
    return payload if payload is not None else _PAYLOADS[event.kind].from_event(event)


# --- the constructors -------------------------------------------------------------------------------


def ticket_created(*, ticket: Ticket, actor, at: datetime) -> Event:
    return _record(ticket, TicketCreated(severity=ticket.severity, channel=ticket.channel), actor, at)


def message_added(*, message, at: datetime) -> Event:
    """A public reply or an internal note (the message says which), by its author."""
    payload = MessageAdded(
        message_id=message.pk, internal=message.internal, by_agent=message.author_role == "agent"
    )
    event = _record(message.ticket, payload, message.author, at, message=message)
    return event


def status_changed(*, ticket: Ticket, actor, at: datetime, previous: str, reason: str = "") -> Event:
    return _record(ticket, StatusChanged(previous=previous, current=ticket.status, reason=reason), actor, at)


def severity_changed(*, ticket: Ticket, actor, at: datetime, previous: str) -> Event:
    return _record(ticket, SeverityChanged(previous=previous, current=ticket.severity), actor, at)


def assigned(*, ticket: Ticket, actor, at: datetime, previous) -> Event:
    """The ticket's assignee changed from `previous` (a user or None) to `ticket.assignee`."""
    current = ticket.assignee
    payload = Assigned(
        previous_name=previous.get_username() if previous else "",
        current_name=current.get_username() if current else "",
        previous_id=previous.pk if previous else None,
        current_id=current.pk if current else None,
    )
    return _record(ticket, payload, actor, at)


def details_changed(*, ticket: Ticket, actor, at: datetime, fields: list[str]) -> Event:
    return _record(ticket, DetailsChanged(fields=list(fields)), actor, at)


def attachment_added(*, attachment, actor, at: datetime) -> Event:
    message = attachment.message
    payload = AttachmentAdded(
        name=attachment.original_name,
        attachment_id=attachment.pk,
        internal=bool(message and message.internal),
    )
    return _record(attachment.ticket, payload, actor, at)


def sla_policy_changed(*, ticket: Ticket, actor, at: datetime, previous: str, current: str) -> Event:
    return _record(ticket, SlaPolicyChanged(previous=previous, current=current), actor, at)


def sla_met(*, ticket: Ticket, at: datetime, metric: str, cycle: int = 0) -> Event:
    """A running SLA clock was stopped in time (by the change being made)."""
    return _record(ticket, SlaMet(metric=metric, cycle=cycle), None, at)


def escalation_fired(*, escalation, at: datetime) -> Event:
    """An escalation of the SLA engine went out: the S1 page, an at-risk warning or a breach."""
    payload = EscalationFired(
        metric=escalation.metric,
        level=escalation.level,
        escalation_id=escalation.pk,
        cycle=escalation.cycle,
    )
    return _record(escalation.ticket, payload, None, at)


def satisfaction_rated(*, ticket: Ticket, actor, at: datetime, rating: str, comment: str = "") -> Event:
    return _record(ticket, SatisfactionRated(rating=rating, comment=comment), actor, at)


def _record(ticket: Ticket, payload: Payload, actor, at: datetime, message=None) -> Event:
    """Write the audit row and dispatch it. A fresh event also carries, unsaved, its typed payload and
    the message it is about (`event.message`), so subscribers need no query to read them back."""
    from_value, to_value, data = payload.row()
    event = Event.objects.create(
        ticket=ticket,
        kind=payload.kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        from_value=_text(from_value),
        to_value=_text(to_value),
        data=data,
        created_at=at,
    )
    event._payload = payload  # what subscribers read: all the constructor knew, unsaved details too
    event.message = message
    spine.dispatch(event)
    return event


def _text(value: Any) -> str:
    return "" if value is None else str(value)[:200]
