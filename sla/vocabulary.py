"""The words a ticket and its SLA share: a ticket's severity (the chart has one row per severity) and its
status (which pauses which clock, which meets the resolution).

The SLA engine sits below the ticket domain, so the two are defined here, where both can read them;
`tickets.models` offers them to the domain and its faces as before.
"""

from django.db import models


class Severity(models.TextChoices):
    """S1 is the most severe; the string order (S1 < S2 ...) is the work order."""

    S1 = "S1", "S1 Critical"
    S2 = "S2", "S2 High"
    S3 = "S3", "S3 Medium"
    S4 = "S4", "S4 Low"
    S5 = "S5", "S5 Enhancement"

    @property
    def definition(self) -> str:
        return SEVERITY_DEFINITIONS[self]


SEVERITY_DEFINITIONS = {
    Severity.S1: "Service unusable for critical functions; data corruption.",
    Severity.S2: "Major function broken with no workaround; severe slowness; wrong calculated values.",
    Severity.S3: "Minor function broken; a workaround exists.",
    Severity.S4: "Cosmetic issues; help-system issues.",
    Severity.S5: "Feature requests.",
}


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Waiting on customer"
    ON_HOLD = "on_hold", "On hold (engineering)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


#: Statuses in which the ticket still needs work from us or the customer.
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
