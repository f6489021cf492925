"""Services for the conversation: public replies, internal notes and attachments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from sla.clocks import sla_pass
from tickets import notifications, workflow
from tickets.attachments import CheckedFile, check_uploads
from tickets.events import event_record
from tickets.locks import ticket_lock
from tickets.models import Attachment, Channel, Event, Message, Status, Ticket
from tickets.permissions import can_view_ticket, is_agent, require_agent
from tickets.services.changes import set_status

#: A customer writing on a ticket in these statuses reopens it.
_REOPENED_BY_CUSTOMER_REPLY = (Status.PENDING, Status.RESOLVED)


def ticket_reply(
    *,
    ticket: Ticket,
    author,
    body: str,
    channel: str | None = None,
    attachments: Iterable = (),
    then_status: str | None = None,
    at: datetime | None = None,
) -> Message:
    """A public reply by an agent or by a customer who may see the ticket; with `then_status`, the status
    to leave the ticket in ("send and set pending"), in the same transaction.

    An agent's reply to a new ticket opens it; a customer's reply to a pending or resolved ticket
    reopens it. `then_status` follows the workflow's rules from there, and is no change when the reply
    left the ticket in it already. A closed ticket takes no more messages. Nothing is written unless
    both the reply and the status change are allowed.
    """
    at = at or timezone.now()
    by_agent = is_agent(author)
    if not by_agent and not can_view_ticket(author, ticket):
        raise PermissionDenied("You cannot reply on this ticket.")
    body = _clean_body(body)
    attachments = check_uploads(attachments)
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        _check_open_for_messages(ticket)
        if by_agent and ticket.status == Status.NEW:
            reopen = "agent_reply"
        elif not by_agent and ticket.status in _REOPENED_BY_CUSTOMER_REPLY:
            reopen = "customer_reply"
        else:
            reopen = ""
        then_status = _checked_then_status(
            then_status, Status.OPEN if reopen else ticket.status, by_agent=by_agent
        )
        message = Message.objects.create(
            ticket=ticket,
            author=author,
            author_role=Message.AuthorRole.AGENT if by_agent else Message.AuthorRole.CUSTOMER,
            body=body,
            internal=False,
            channel=channel or (Channel.AGENT if by_agent else Channel.PORTAL),
            created_at=at,
        )
        event_record(
            ticket=ticket, kind=Event.Kind.REPLIED, actor=author, at=at, data={"message_id": message.pk}
        )
        for upload in attachments:
            attachment_add(ticket=ticket, uploaded_by=author, upload=upload, message=message, at=at)
        clocks = sla_pass(ticket, at=at)
        if by_agent:
            clocks.agent_replied()
        if reopen:
            set_status(ticket, Status.OPEN, actor=author, at=at, clocks=clocks, reason=reopen)
        if by_agent:
            notifications.queue_agent_reply(message)
        if then_status:
            set_status(ticket, then_status, actor=author, at=at, clocks=clocks)
        ticket.updated_at = at
        clocks.save(ticket_saved_after=True)
        ticket.save()
    return message


def ticket_add_note(
    *,
    ticket: Ticket,
    author,
    body: str,
    attachments: Iterable = (),
    then_status: str | None = None,
    at: datetime | None = None,
) -> Message:
    """An internal note: agents only, never shown to customers. It changes no status by itself;
    `then_status`, as for a reply, sets one in the same transaction."""
    at = at or timezone.now()
    require_agent(author, "write internal notes")
    body = _clean_body(body)
    attachments = check_uploads(attachments)
    with transaction.atomic():
        ticket = ticket_lock(ticket.pk)
        then_status = _checked_then_status(then_status, ticket.status, by_agent=True)
        message = Message.objects.create(
            ticket=ticket,
            author=author,
            author_role=Message.AuthorRole.AGENT,
            body=body,
            internal=True,
            channel=Channel.AGENT,
            created_at=at,
        )
        event_record(
            ticket=ticket, kind=Event.Kind.NOTE_ADDED, actor=author, at=at, data={"message_id": message.pk}
        )
        for upload in attachments:
            attachment_add(ticket=ticket, uploaded_by=author, upload=upload, message=message, at=at)
        ticket.updated_at = at
        if then_status:
            clocks = sla_pass(ticket, at=at)
            set_status(ticket, then_status, actor=author, at=at, clocks=clocks)
            clocks.save(ticket_saved_after=True)
            ticket.save()
        else:
            ticket.save(update_fields=["updated_at"])
    return message


def _checked_then_status(then_status: str | None, current: str, *, by_agent: bool) -> str | None:
    """The status a message asks to leave the ticket in, if it is a change (checked), else None."""
    if not then_status or then_status == current:
        return None
    workflow.check_transition(current, then_status, by_agent=by_agent)
    return then_status


def attachment_add(
    *,
    ticket: Ticket,
    uploaded_by,
    upload: CheckedFile | object,
    message: Message | None = None,
    at: datetime | None = None,
) -> Attachment:
    """Check an uploaded file (size, sniffed type) unless already checked, and keep it on the ticket.

    A file of its own (no `message`) is refused on a closed ticket, as a reply is: a closed ticket takes
    nothing more. A file that belongs to a message follows that message's rules (its service checked them).

    Raises ValidationError on `attachments` with a message for the person who uploaded it.
    """
    at = at or timezone.now()
    if not is_agent(uploaded_by) and not can_view_ticket(uploaded_by, ticket):
        raise PermissionDenied("You cannot add files to this ticket.")
    (checked,) = check_uploads([upload])
    with checked.content, transaction.atomic():
        if message is None:
            # Under the ticket's lock, as a reply checks: a ticket closed meanwhile is seen closed.
            _check_open_for_files(ticket_lock(ticket.pk))
        attachment = Attachment(
            ticket=ticket,
            message=message,
            original_name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by=uploaded_by if uploaded_by is not None and uploaded_by.is_authenticated else None,
            created_at=at,
        )
        attachment.file.save(checked.name, checked.content, save=False)
        try:
            attachment.save()
            event_record(
                ticket=ticket,
                kind=Event.Kind.ATTACHMENT_ADDED,
                actor=uploaded_by,
                at=at,
                to_value=checked.name,
                data={"attachment_id": attachment.pk, "internal": bool(message and message.internal)},
            )
        except Exception:
            attachment.file.delete(save=False)
            raise
    return attachment


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a message."})
    return body


def _check_open_for_files(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise ValidationError(
            {"attachments": f"{ticket.reference} is closed; please open a new ticket to send files."}
        )


def _check_open_for_messages(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise ValidationError({"body": f"{ticket.reference} is closed; please open a new ticket."})
