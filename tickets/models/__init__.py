"""The ticket domain's models, one module per concern."""

from .choices import (
    OPEN_STATUSES,
    SEVERITY_DEFINITIONS,
    AffectedRole,
    Channel,
    ImpactScope,
    Occurrence,
    Severity,
    Status,
)
from .conversation import Attachment, Message
from .events import Event
from .organizations import TIMEZONE_CHOICES, Membership, Organization
from .tickets import Candidate, Ticket, parse_reference

__all__ = [
    "OPEN_STATUSES",
    "SEVERITY_DEFINITIONS",
    "TIMEZONE_CHOICES",
    "AffectedRole",
    "Attachment",
    "Candidate",
    "Channel",
    "Event",
    "ImpactScope",
    "Membership",
    "Message",
    "Occurrence",
    "Organization",
    "Severity",
    "Status",
    "Ticket",
    "parse_reference",
]
