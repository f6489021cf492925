"""Services for chat: a customer starts a conversation or continues one of their open tickets in the
portal's chat panel, agents accept chats, and a chat that went quiet mails its transcript, once.

A chat is the ticket's own conversation: its lines are the ticket's messages (channel "chat"), written
by `ticket_create` and `ticket_reply` like every other, so the SLA clocks, the S1 page to on-call, the
audit trail, the live updates, the webhooks and the emails all follow as for any ticket. The `Chat` row
only records that the panel is on that ticket, since when, and when it went quiet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tickets import notifications
from tickets.models import OPEN_STATUSES, Channel, Chat, Message, Severity, Ticket
from tickets.permissions import can_view_ticket, customer_membership, require_agent
from tickets.services.changes import ticket_assign
from tickets.services.conversation import ticket_reply
from tickets.services.tickets import ticket_create

#: The longest chat line (the panel's box says so too).
MAX_LINE_CHARS = 5000
#: The longest subject of a new conversation (the ticket's).
MAX_SUBJECT_CHARS = 200


def chat_start(*, customer, subject: str, severity: str, body: str, at: datetime | None = None) -> Chat:
    """A new conversation: a chat ticket with the customer's subject and severity, its first line as the
    description. S1 pages on-call as every S1 does (the SLA clocks of `ticket_create`)."""
    at = at or timezone.now()
    errors = {}
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = "Say in one line what it is about."
    elif len(subject) > MAX_SUBJECT_CHARS:
        errors["subject"] = f"Keep the subject under {MAX_SUBJECT_CHARS} characters."
    if severity not in Severity.values:
        errors["severity"] = "Choose how bad it is: S1 to S5."
    try:
        body = _clean_line(body)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if customer_membership(customer) is None:
        errors["customer"] = "Only a customer of an organization can chat with support."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ticket = ticket_create(
            requester=customer,
            subject=subject,
            description=body,
            severity=severity,
            channel=Channel.CHAT,
            at=at,
        )
        return Chat.objects.create(
            ticket=ticket, customer=customer, started_at=at, opened_ticket=True, last_message_at=at
        )


def chat_post(*, customer, ticket: Ticket, body: str, at: datetime | None = None) -> Message:
    """A chat line on one of the customer's open tickets: a reply on the ticket (channel "chat"), and the
    chat in progress on it (a new one after the last went quiet)."""
    at = at or timezone.now()
    if customer_membership(customer) is None or not can_view_ticket(customer, ticket):
        raise PermissionDenied("You cannot chat on this ticket.")
    check_open_for_chat(ticket)
    body = _clean_line(body)
    with transaction.atomic():
        message = ticket_reply(ticket=ticket, author=customer, body=body, channel=Channel.CHAT, at=at)
        # `ticket_reply` holds the ticket's lock until this commits: one chat in progress per customer.
        updated = Chat.objects.filter(ticket=ticket, customer=customer, ended_at__isnull=True).update(
            last_message_at=at
        )
        if not updated:
            Chat.objects.create(ticket=ticket, customer=customer, started_at=at, last_message_at=at)
    return message


def check_open_for_chat(ticket: Ticket) -> None:
    """A chat goes on an open ticket only; a resolved or closed one is continued from its page."""
    if ticket.status not in OPEN_STATUSES:
        raise ValidationError(
            {
                "ticket": f"{ticket.reference} is {ticket.get_status_display().lower()}; start a new "
                "conversation, or reopen it from its page."
            }
        )


def chat_accept(*, agent, ticket: Ticket, at: datetime | None = None) -> Ticket:
    """An agent takes a chat: its ticket is assigned to them (nothing changes if it is already)."""
    require_agent(agent, "accept chats")
    if ticket.assignee_id == agent.pk:
        return ticket
    return ticket_assign(ticket=ticket, actor=agent, assignee=agent, at=at)


def quiet_since(at: datetime) -> datetime:
    """A chat with no message since this instant has gone quiet (CHAT_QUIET_MINUTES before `at`)."""
    return at - timedelta(minutes=settings.CHAT_QUIET_MINUTES)


def _quiet(cutoff: datetime) -> Q:
    """Chats in progress with no line since `cutoff`: neither the customer's nor a public reply (an
    internal note is not part of the chat and keeps nothing open)."""
    recent = Message.objects.filter(ticket=OuterRef("ticket_id"), internal=False, created_at__gte=cutoff)
    return Q(ended_at__isnull=True, last_message_at__lt=cutoff) & ~Q(Exists(recent))


def chats_end_quiet(*, at: datetime | None = None, limit: int = 500) -> int:
    """End the chats that went quiet and queue each one's transcript email, in the same transaction as
    the end: once per chat, however many sweeps run at once (the end is a conditional update, so only
    one of them ends it). Returns how many ended."""
    at = at or timezone.now()
    cutoff = quiet_since(at)
    candidates = list(Chat.objects.filter(_quiet(cutoff)).order_by("started_at").values_list("pk", flat=True))
    ended = 0
    for chat_id in candidates[:limit]:
        with transaction.atomic():
            if not Chat.objects.filter(_quiet(cutoff), pk=chat_id).update(ended_at=at):
                continue  # a line came meanwhile, or another sweep ended it
            chat = Chat.objects.select_related("ticket", "customer").get(pk=chat_id)
            notifications.queue_chat_transcript(chat)
            ended += 1
    return ended


def _clean_line(body: str) -> str:
    body = (body or "").strip() if isinstance(body, str) else ""
    if not body:
        raise ValidationError({"body": "Write a message."})
    if len(body) > MAX_LINE_CHARS:
        raise ValidationError({"body": f"Keep a message under {MAX_LINE_CHARS:,} characters."})
    return body
