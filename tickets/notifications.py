"""Notification emails to customers, threaded per ticket so mail clients group them.

Composed here, sent by the Celery tasks in `tickets.tasks`; never sent inside a request.
"""

from __future__ import annotations

from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from tickets.models import Message, Status, Ticket


def thread_id(ticket: Ticket) -> str:
    """The Message-ID of the ticket's first notification; later ones reply to it."""
    # DEFAULT_FROM_EMAIL may carry a display name ("Support <help@example.com>"): take the address's domain.
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return f"<ticket-{ticket.pk}@{domain or 'helpdesk.localhost'}>"


def portal_url(ticket: Ticket) -> str:
    # The public contract fixes this address; notification emails link to it.
    return f"{settings.SITE_URL.rstrip('/')}/portal/tickets/{ticket.reference}/"


def _send(ticket: Ticket, *, subject: str, template: str, context: dict, first: bool = False) -> None:
    recipient = ticket.requester.email
    if not recipient:
        return
    body = render_to_string(template, {"ticket": ticket, "url": portal_url(ticket), **context})
    headers = (
        {"Message-ID": thread_id(ticket)}
        if first
        else {
            "In-Reply-To": thread_id(ticket),
            "References": thread_id(ticket),
        }
    )
    EmailMessage(
        subject=f"[{ticket.reference}] {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=[settings.SUPPORT_EMAIL],
        headers=headers,
    ).send()


def send_ticket_received(ticket: Ticket) -> None:
    _send(
        ticket, subject=ticket.subject, template="tickets/email/ticket_received.txt", context={}, first=True
    )


def send_agent_reply(message: Message) -> None:
    ticket = message.ticket
    _send(
        ticket,
        subject=f"Re: {ticket.subject}",
        template="tickets/email/agent_reply.txt",
        context={"message": message},
    )


def send_status_changed(ticket: Ticket, previous: str, current: str) -> None:
    if current not in (Status.PENDING, Status.RESOLVED, Status.CLOSED):
        return  # only the changes that ask something of the customer or end the conversation
    _send(
        ticket,
        subject=f"{Status(current).label}: {ticket.subject}",
        template="tickets/email/status_changed.txt",
        context={"previous": Status(previous).label, "current": Status(current).label},
    )
