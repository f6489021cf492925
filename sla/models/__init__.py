"""The SLA's models: the chart and calendars, per-ticket clocks, escalations and their deliveries."""

from .chart import BusinessCalendar, BusinessHours, Clock, Holiday, Metric, ResponseTarget, SlaPolicy
from .clocks import ClockState, TicketClock
from .escalations import (
    ContactKind,
    DeliveryStatus,
    Escalation,
    EscalationContact,
    EscalationDelivery,
    Level,
)

__all__ = [
    "BusinessCalendar",
    "BusinessHours",
    "Clock",
    "ClockState",
    "ContactKind",
    "DeliveryStatus",
    "Escalation",
    "EscalationContact",
    "EscalationDelivery",
    "Holiday",
    "Level",
    "Metric",
    "ResponseTarget",
    "SlaPolicy",
    "TicketClock",
]
