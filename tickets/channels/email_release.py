"""Releasing a mail held for sender authentication: an agent vouches for it, and it is processed again.

A mail is held (`tickets.channels.sender_auth`) when the trusted receiving server's verdict does not
prove the sender it claims: a customer's mail that failed DMARC, an agent's address without a pass. Its
bytes stay in its `InboundEmail` row. An agent who knows the mail is genuine (the customer's mail server
is misconfigured, say) releases it: `process` runs again as for a new mail, with only the
authentication check passed; every other rule (automatic mail, threading, attachments) still applies,
and the new row records who released it and when.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError

from tickets.channels.email_in import QUARANTINED, Result, process
from tickets.models import InboundEmail
from tickets.permissions import require_agent

logger = logging.getLogger(__name__)


def held_emails():
    """The mails held for sender authentication, waiting for an agent."""
    return InboundEmail.objects.filter(status=QUARANTINED, held_mail__isnull=False)


def inbound_email_release(*, inbound_email: InboundEmail, actor, at: datetime | None = None) -> Result:
    """Process a held mail again as released by `actor` (an agent). Raises PermissionDenied for anyone
    else, and ValidationError for a mail that is not (or no longer) held."""
    require_agent(actor, "release held mail")
    raw = held_emails().filter(pk=inbound_email.pk).values_list("held_mail", flat=True).first()
    if raw is None:
        raise ValidationError(f"{inbound_email.message_id} is not held for sender authentication.")
    result = process(bytes(raw), at=at, released_by=actor)
    logger.info("Email %s released by %s: %s", result.message_id, actor.get_username(), result.status)
    return result
