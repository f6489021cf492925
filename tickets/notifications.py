"""Notification emails to customers, threaded per ticket so mail clients group them.

Queued here, in the transaction of the change they tell about: `queue_ticket_received`,
`queue_agent_reply` and `queue_status_changed` each write an `OutgoingEmail`, an outbox row
(helpdesk/outbox.py), and hand its task to Celery after commit. So an email commits or rolls back with its
change, and a broker that is down loses nothing: the outbox process sends the row from the database. The
row is sent under its lock and marked sent in the same transaction: two senders racing send it once, a
failure is retried with backoff (2 s … 10 min, 8 attempts). Only a sender killed after the mail server
took the email and before the row was recorded causes a second one, with the same Message-ID. Never sent
inside a request. Plain text only.

The email is composed when it is sent, and the requester checked then, not when it was queued: a
requester deactivated or moved to another organization since no longer gets mail about the ticket.

Threading: the "ticket received" email is the root of the ticket's thread, with the Message-ID
`<ticket-{pk}@domain>` (`thread_id`). Every later email has its own Message-ID
`<ticket-{pk}.{kind}.{unique}@domain>`, fixed on its row when it is queued (a retry resends the same), and
In-Reply-To/References pointing at the root. All carry `[HD-n]` in the subject and Reply-To
SUPPORT_EMAIL, so the customer's answer comes back to the email channel, which threads it by either
(`tickets.channels.email_in`). Internal notes are never sent.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from email.utils import make_msgid, parseaddr

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from helpdesk import outbox
from sla.models import Metric
from sla.promises import first_response_promise
from tickets.models import Chat, Message, Notification, OutgoingEmail, Severity, Status, Ticket
from tickets.permissions import can_view_ticket, is_agent
from tickets.satisfaction import can_be_rated, rating_links

logger = logging.getLogger(__name__)

FALLBACK_DOMAIN = "helpdesk.localhost"

#: Headers of the emails the helpdesk composes on its own (RFC 3834, and Exchange's equivalent): they
#: ask the customer's out-of-office responder not to answer, which keeps mail loops from starting.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "OOF, AutoReply"}

#: The status changes that ask something of the customer or end the conversation: the others are not mailed.
CUSTOMER_STATUSES = (Status.PENDING, Status.RESOLVED, Status.CLOSED)

#: Failed sends are retried after 2, 4, 8 … seconds, at most 10 minutes apart, 8 attempts in all.
POLICY = outbox.RetryPolicy(base=2, max_delay=600, max_attempts=8)


# --- queueing, in the change's transaction ------------------------------------------------------------


def queue_ticket_received(ticket: Ticket) -> OutgoingEmail:
    """The "ticket received" email, the root of the ticket's thread."""
    return _queue(ticket, OutgoingEmail.Kind.TICKET_RECEIVED, message_id=thread_id(ticket))


def queue_agent_reply(message: Message) -> OutgoingEmail | None:
    """An agent's public reply, mailed to the requester; None for an internal note (never mailed), and
    None while the requester chats on the ticket: the reply reaches their chat panel at once, and the
    chat's transcript, mailed when it goes quiet, carries it (`queue_chat_transcript`)."""
    if message.internal:
        return None
    ticket = message.ticket
    if Chat.objects.filter(ticket=ticket, customer_id=ticket.requester_id, ended_at__isnull=True).exists():
        return None
    return _queue(
        ticket,
        OutgoingEmail.Kind.AGENT_REPLY,
        message_id=notification_id(ticket, "reply", message.pk),
        message=message,
    )


def queue_status_changed(ticket: Ticket, previous: str, current: str) -> OutgoingEmail | None:
    """A status change that concerns the customer (CUSTOMER_STATUSES); None for the others."""
    if current not in CUSTOMER_STATUSES:
        return None
    return _queue(
        ticket,
        OutgoingEmail.Kind.STATUS_CHANGED,
        message_id=notification_id(ticket, f"status-{current}"),
        data={"previous": previous, "current": current},
    )


def queue_chat_transcript(chat: Chat) -> OutgoingEmail:
    """A chat that went quiet: its transcript and a link to the ticket, to the customer who chatted."""
    return _queue(
        chat.ticket,
        OutgoingEmail.Kind.CHAT_TRANSCRIPT,
        message_id=notification_id(chat.ticket, "chat", chat.pk),
        data={"chat": chat.pk},
    )


def _queue(ticket: Ticket, kind: str, *, message_id: str, message=None, data=None) -> OutgoingEmail:
    email = OutgoingEmail.objects.create(
        kind=kind, ticket=ticket, message=message, data=data or {}, msgid=message_id
    )
    outbox.enqueue_or_log(send_email, email.pk)
    return email


# --- sending ------------------------------------------------------------------------------------------


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_email(self, email_id: int) -> str:
    """The fast path of one queued email: one attempt, and a retry after its backoff if it failed. A retry
    that finds the outbox process ahead of it leaves the email to the outbox process."""
    outcome = attempt(email_id, respect_backoff=bool(self.request.retries))
    if outcome.status == "retrying":
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


def attempt(email_id: int, *, respect_backoff: bool = True) -> outbox.Outcome:
    """One attempt at a queued email, under its row lock (helpdesk.outbox.attempt)."""
    emails = OutgoingEmail.objects.select_related(
        "ticket__requester__membership", "ticket__organization", "message"
    )
    return outbox.attempt(emails, email_id, send=_send_row, policy=POLICY, respect_backoff=respect_backoff)


def due(now: datetime, limit: int) -> list[int]:
    """What the outbox process takes: the emails due at `now`, the longest waiting first."""
    return outbox.due(OutgoingEmail.objects, now, limit)


def deliver_due(email_id: int) -> bool:
    return attempt(email_id).attempted


def _send_row(email: OutgoingEmail) -> None:
    ticket = email.ticket
    if email.kind == OutgoingEmail.Kind.TICKET_RECEIVED:
        mail = ticket_received_email(ticket, message_id=email.msgid)
    elif email.kind == OutgoingEmail.Kind.AGENT_REPLY:
        mail = agent_reply_email(ticket, email.message, message_id=email.msgid)
    elif email.kind == OutgoingEmail.Kind.CHAT_TRANSCRIPT:
        chat = Chat.objects.select_related("customer").filter(pk=email.data.get("chat")).first()
        if chat is None:
            raise outbox.Withdrawn("The chat is gone.")
        mail = chat_transcript_email(chat, message_id=email.msgid)
    elif email.kind == OutgoingEmail.Kind.AGENT_NOTICE:
        mail = agent_notice_email(ticket, email.data["notification"], message_id=email.msgid)
    else:
        previous, current = email.data["previous"], email.data["current"]
        mail = status_changed_email(ticket, previous, current, message_id=email.msgid)
    email.recipient = mail.to[0]
    mail.send()


# --- composing ----------------------------------------------------------------------------------------


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

    `unique` is a row id where there is one; otherwise make_msgid supplies time, process and random
    parts. Either way it is fixed on the email's row when it is queued, so a retry resends the same id
    and mail clients show one email. The domain is passed so make_msgid does not look up the host's
    name, which can be slow.
    """
    if unique is None:
        unique = make_msgid(domain=mail_domain())[1:].partition("@")[0]
    return f"<ticket-{ticket.pk}.{kind}.{unique}@{mail_domain()}>"


def portal_url(ticket: Ticket) -> str:
    # The public contract fixes this address; notification emails link to it.
    return f"{settings.SITE_URL.rstrip('/')}/portal/tickets/{ticket.reference}/"


def _compose(
    ticket: Ticket,
    *,
    subject: str,
    template: str,
    context: dict,
    message_id: str,
    automatic: bool,
    recipient_user=None,
) -> EmailMessage:
    """The email to the ticket's requester (or `recipient_user`, a customer who may see it). Raises
    helpdesk.outbox.Withdrawn when there is nobody to send it to: no address, or a person who may no
    longer see the ticket."""
    requester = recipient_user or ticket.requester
    recipient = requester.email
    if not recipient:
        raise outbox.Withdrawn("The requester has no email address.")
    # Checked when the mail is sent, not when it was queued: a requester deactivated or moved to another
    # organization since then no longer sees the ticket in the portal, so no mail about it either.
    if not can_view_ticket(requester, ticket):
        logger.info("Not mailing %s about %s: they may no longer see it", requester.pk, ticket.reference)
        raise outbox.Withdrawn("The requester may no longer see the ticket.")
    body = render_to_string(template, {"ticket": ticket, "url": portal_url(ticket), **context})
    headers = {"Message-ID": message_id}
    root = thread_id(ticket)
    if message_id != root:
        headers |= {"In-Reply-To": root, "References": root}
    if automatic:
        headers |= AUTOMATIC_HEADERS
    return EmailMessage(
        subject=one_line(f"[{ticket.reference}] {subject}"),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=[settings.SUPPORT_EMAIL],
        headers=headers,
    )


def one_line(text: str) -> str:
    """`text` for a header: line breaks and runs of whitespace become one space. A subject typed with line
    breaks (the API and the console accept them) would otherwise stop the email from being sent at all,
    and a header must never be cut where a customer's text could start another one."""
    return " ".join(text.split())


def ticket_received_email(ticket: Ticket, *, message_id: str | None = None) -> EmailMessage:
    return _compose(
        ticket,
        subject=ticket.subject,
        template="tickets/email/ticket_received.txt",
        context={"promise": response_promise(ticket), "critical": ticket.severity == Severity.S1},
        message_id=message_id or thread_id(ticket),
        automatic=True,
    )


def agent_reply_email(ticket: Ticket, message: Message, *, message_id: str | None = None) -> EmailMessage:
    return _compose(
        ticket,
        subject=f"Re: {ticket.subject}",
        template="tickets/email/agent_reply.txt",
        context={"message": message},
        message_id=message_id or notification_id(ticket, "reply", message.pk),
        # Written by a person: the customer's out-of-office reply is welcome here.
        automatic=False,
    )


def status_changed_email(
    ticket: Ticket, previous: str, current: str, *, message_id: str | None = None
) -> EmailMessage:
    return _compose(
        ticket,
        subject=f"{Status(current).label}: {ticket.subject}",
        template="tickets/email/status_changed.txt",
        context={
            "previous": Status(previous).label,
            "current": Status(current).label,
            # The resolution email asks how we did: two signed one-click links (tickets/satisfaction.py),
            # while the ticket is still resolved when the email goes.
            "rating_links": rating_links(ticket)
            if current == Status.RESOLVED and ticket.status == Status.RESOLVED and can_be_rated(ticket)
            else None,
        },
        message_id=message_id or notification_id(ticket, f"status-{current}"),
        automatic=True,
    )


def chat_transcript_email(chat: Chat, *, message_id: str | None = None) -> EmailMessage:
    """The transcript of a chat that went quiet, to the customer who chatted: their lines and the public
    replies from its start to its end (never an internal note), in their organization's time zone."""
    ticket = chat.ticket
    tz = ticket.organization.zoneinfo
    return _compose(
        ticket,
        subject=f"Your chat: {ticket.subject}",
        template="tickets/email/chat_transcript.txt",
        context={
            "lines": chat_transcript(chat),
            "timezone": tz.key.replace("_", " "),
            "recipient_name": _customer_name(chat.customer),
        },
        message_id=message_id or notification_id(ticket, "chat", chat.pk),
        automatic=True,
        recipient_user=chat.customer,
    )


def chat_transcript(chat: Chat) -> list[dict]:
    """A chat's lines as the customer saw them: who, when (their organization's time), what."""
    ticket = chat.ticket
    tz = ticket.organization.zoneinfo
    lines = []
    if chat.opened_ticket:
        lines.append(
            {"who": _customer_name(ticket.requester), "at": ticket.created_at, "body": ticket.description}
        )
    messages = ticket.messages.public().filter(created_at__gte=chat.started_at).select_related("author")
    if chat.ended_at is not None:
        messages = messages.filter(created_at__lte=chat.ended_at)
    for message in messages.order_by("created_at", "pk"):
        if message.author_role == Message.AuthorRole.AGENT:
            who = f"{(message.author.get_full_name() if message.author else '') or 'Support'} (support)"
        elif message.author_role == Message.AuthorRole.SYSTEM:
            who = "Support"
        else:
            who = _customer_name(message.author)
        lines.append({"who": who, "at": message.created_at, "body": message.body})
    for line in lines:
        local = line["at"].astimezone(tz)
        line["when"] = f"{local:%b} {local.day}, {local:%H:%M}"
    return lines


def _customer_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "You"


def console_url(ticket: Ticket) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/admin/tickets/ticket/{ticket.pk}/change/"


def agent_notice_email(ticket: Ticket, notification_id_: int, *, message_id: str) -> EmailMessage:
    """An agent's notification (tickets.inbox), by email because they asked for that kind. Checked when
    sent: a user who is no longer an agent gets nothing."""
    notice = Notification.objects.select_related("recipient").filter(pk=notification_id_).first()
    if notice is None:
        raise outbox.Withdrawn("The notification no longer exists.")
    agent = notice.recipient
    if not is_agent(agent) or not agent.email:
        raise outbox.Withdrawn("The recipient is no longer an agent with an email address.")
    body = render_to_string(
        "tickets/email/agent_notice.txt", {"notice": notice, "ticket": ticket, "url": console_url(ticket)}
    )
    return EmailMessage(
        subject=one_line(f"[{ticket.reference}] {notice.get_kind_display()}: {ticket.subject}"),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[agent.email],
        headers={"Message-ID": message_id, **AUTOMATIC_HEADERS},
    )


def send_ticket_received(ticket: Ticket) -> None:
    """Compose and send the "ticket received" email at once, outside the outbox (a resend by hand)."""
    with contextlib.suppress(outbox.Withdrawn):
        ticket_received_email(ticket).send()


def send_agent_reply(message: Message) -> None:
    """Compose and send an agent reply's email at once, outside the outbox; never an internal note."""
    if message.internal:
        return  # notes stay inside the helpdesk, whoever calls this
    with contextlib.suppress(outbox.Withdrawn):
        agent_reply_email(message.ticket, message).send()


def response_promise(ticket: Ticket) -> str:
    """ "We will respond by <weekday, date, time> (<time zone>)." in the organization's time zone, worded as
    the portal words it (`sla.promises`); empty unless the first-response clock is running."""
    clocks = list(ticket.sla_clocks.filter(metric=Metric.FIRST_RESPONSE))
    promise = first_response_promise(clocks, ticket.organization.zoneinfo)
    return promise.text if promise is not None and promise.kind == "due" else ""
