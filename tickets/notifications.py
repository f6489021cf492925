"""Notification emails to customers, threaded per ticket so mail clients group them.

Composed here, sent by the Celery tasks in `tickets.tasks`; never sent inside a request. Plain text only.

Threading: the "ticket received" email is the root of the ticket's thread, with the Message-ID
`<ticket-{pk}@domain>` (`thread_id`). Every later email has its own Message-ID
`<ticket-{pk}.{kind}.{unique}@domain>` and In-Reply-To/References pointing at the root. All carry
`[HD-n]` in the subject and Reply-To SUPPORT_EMAIL, so the customer's answer comes back to the email
channel, which threads it by either (`tickets.channels.email_in`). Internal notes are never sent.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from sla.models import Metric
from sla.promises import first_response_promise
from tickets.models import Message, Severity, Status, Ticket
from tickets.permissions import can_view_ticket

logger = logging.getLogger(__name__)

FALLBACK_DOMAIN = "helpdesk.localhost"

#: Headers of the emails the helpdesk composes on its own (RFC 3834, and Exchange's equivalent): they
#: ask the customer's out-of-office responder not to answer, which keeps mail loops from starting.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "OOF, AutoReply"}


def mail_domain() -> str:
    """The domain of our Message-IDs: that of DEFAULT_FROM_EMAIL (which may carry a display name)."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or FALLBACK_DOMAIN


def thread_id(ticket: Ticket) -> str:
    """The Message-ID of the ticket's first notification (the thread's root); later ones reply to it."""
    return f"<ticket-{ticket.pk}@{mail_domain()}>"


def notification_id(ticket: Ticket, kind: str, unique: object = None) -> str:
    """A Message-ID of its own for a later notification: `<ticket-{pk}.{kind}.{unique}@domain>`.

    `unique` is a row id where there is one (a retried task then resends the same id, and mail clients
    show one email); otherwise make_msgid supplies time, process and random parts. The domain is passed
    so make_msgid does not look up the host's name, which can be slow.
    """
    if unique is None:
        unique = make_msgid(domain=mail_domain())[1:].partition("@")[0]
    return f"<ticket-{ticket.pk}.{kind}.{unique}@{mail_domain()}>"


def portal_url(ticket: Ticket) -> str:
    # The public contract fixes this address; notification emails link to it.
    return f"{settings.SITE_URL.rstrip('/')}/portal/tickets/{ticket.reference}/"


def _send(
    ticket: Ticket,
    *,
    subject: str,
    template: str,
    context: dict,
    message_id: str,
    automatic: bool,
) -> None:
    requester = ticket.requester
    recipient = requester.email
    if not recipient:
        return
    # Checked when the mail is sent, not when it was queued: a requester deactivated or moved to another
    # organization since then no longer sees the ticket in the portal, so no mail about it either.
    if not can_view_ticket(requester, ticket):
        logger.info("Not mailing %s about %s: they may no longer see it", requester.pk, ticket.reference)
        return
    body = render_to_string(template, {"ticket": ticket, "url": portal_url(ticket), **context})
    headers = {"Message-ID": message_id}
    root = thread_id(ticket)
    if message_id != root:
        headers |= {"In-Reply-To": root, "References": root}
    if automatic:
        headers |= AUTOMATIC_HEADERS
    EmailMessage(
        subject=one_line(f"[{ticket.reference}] {subject}"),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=[settings.SUPPORT_EMAIL],
        headers=headers,
    ).send()


def one_line(text: str) -> str:
    """`text` for a header: line breaks and runs of whitespace become one space. A subject typed with line
    breaks (the API and the console accept them) would otherwise stop the email from being sent at all,
    and a header must never be cut where a customer's text could start another one."""
    return " ".join(text.split())


def send_ticket_received(ticket: Ticket) -> None:
    _send(
        ticket,
        subject=ticket.subject,
        template="tickets/email/ticket_received.txt",
        context={"promise": response_promise(ticket), "critical": ticket.severity == Severity.S1},
        message_id=thread_id(ticket),
        automatic=True,
    )


def send_agent_reply(message: Message) -> None:
    if message.internal:
        return  # notes stay inside the helpdesk, whoever calls this
    ticket = message.ticket
    _send(
        ticket,
        subject=f"Re: {ticket.subject}",
        template="tickets/email/agent_reply.txt",
        context={"message": message},
        message_id=notification_id(ticket, "reply", message.pk),
        # Written by a person: the customer's out-of-office reply is welcome here.
        automatic=False,
    )


def send_status_changed(ticket: Ticket, previous: str, current: str) -> None:
    if current not in (Status.PENDING, Status.RESOLVED, Status.CLOSED):
        return  # only the changes that ask something of the customer or end the conversation
    _send(
        ticket,
        subject=f"{Status(current).label}: {ticket.subject}",
        template="tickets/email/status_changed.txt",
        context={"previous": Status(previous).label, "current": Status(current).label},
        message_id=notification_id(ticket, f"status-{current}"),
        automatic=True,
    )


def response_promise(ticket: Ticket) -> str:
    """ "We will respond by <weekday, date, time> (<time zone>)." in the organization's time zone, worded as
    the portal words it (`sla.promises`); empty unless the first-response clock is running."""
    clocks = list(ticket.sla_clocks.filter(metric=Metric.FIRST_RESPONSE))
    promise = first_response_promise(clocks, ticket.organization.zoneinfo)
    return promise.text if promise is not None and promise.kind == "due" else ""
