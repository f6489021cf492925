"""What a mail becomes: who sent it, which ticket it answers, and what to do (the decisions).

`decide` takes a mail already read (`tickets.channels.mime`) and the verdict on its sender, makes the
change through `tickets.services`, and returns a `Decision` for `tickets.channels.email_in` to record.

- **Automatic mail** (Auto-Submitted other than `no`, Precedence bulk/junk/auto_reply, X-Autoreply,
  delivery reports, the null sender, our own address) is rejected without an answer: answering
  out-of-office replies is how mail loops start.
- **Threading.** A mail belongs to a ticket named by `[HD-n]` in its subject, or whose thread its
  In-Reply-To/References reach: our notifications' `<ticket-{pk}…@our-domain>` ids, or the Message-ID
  of a mail we filed earlier. Only a ticket the sender may see counts; otherwise the mail is new.
- **Customers** (an active user with that address and a membership): a threaded mail is a public
  reply (which reopens a pending or resolved ticket); a mail on a closed ticket opens a follow-up that
  names the old reference; anything else opens a ticket. Emailed tickets start at **S3**: email carries
  no severity the customer chose against the chart's definitions, and a subject tag would let anyone
  who can send mail page on-call; agents re-grade, and the "ticket received" email sends S1 cases to
  the portal.
- **Agents** (staff with that address) answer a ticket by email: a public agent reply. They cannot open
  tickets or write on closed ones by email; they get an answer saying so.
- **Unknown senders** follow EMAIL_IN_UNKNOWN_SENDERS: `reject` answers once a day at most per address
  (a loop breaker for responders that do not mark their mail) with a pointer to the portal; `open`
  makes the sender a requester of EMAIL_IN_DEFAULT_ORGANIZATION (with no usable password: they set one
  through password reset) and opens the ticket.
- **Sender authentication** (`tickets.channels.sender_auth`): the From address counts only as far as
  the trusted receiving server's DMARC verdict proves it. Agent mail needs a pass; customer mail that
  failed is held; automatic answers (`tickets.channels.email_replies`) go out only on a pass.
- **Text.** Replies lose their quoted history (it is on the ticket already); a new ticket keeps the
  whole text, since a forwarded mail is often the report. Attachments pass the same checks as uploads;
  a refused file does not lose the mail: its name and the reason are listed at the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage

from tickets.attachments import check_upload
from tickets.channels.email_replies import console_hint, portal_hint, refusal
from tickets.channels.mime import ParsedMail, Quarantine, clean_line, trim_quoted
from tickets.channels.sender_auth import Trust
from tickets.models import Channel, InboundEmail, Message, Organization, Status, Ticket
from tickets.notifications import mail_domain
from tickets.permissions import can_view_ticket, customer_membership, is_agent
from tickets.services import ticket_create, ticket_reply
from tickets.services.people import customer_create

PROCESSED = InboundEmail.Status.PROCESSED
REJECTED = InboundEmail.Status.REJECTED

SUBJECT_MAX = Ticket._meta.get_field("subject").max_length
USERNAME_MAX = 150
NO_SUBJECT = "(no subject)"
NO_TEXT = "(The email had no text.)"
UNKNOWN_SENDER = "Unknown sender"
#: How often at most an unknown address is answered.
ANSWER_AGAIN_AFTER = timedelta(days=1)

_REFERENCE_TAG_RE = re.compile(r"\[\s*HD-(\d{1,18})\s*\]", re.IGNORECASE)
_REPLY_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass
class Decision:
    """What became of a mail: the status and reason to record, what was written, and any answer."""

    status: str
    reason: str
    ticket: Ticket | None = None
    reply: Message | None = None
    answer: EmailMessage | None = None


def decide(mail: ParsedMail, *, trust: Trust, at: datetime) -> Decision:
    """Act on `mail` (see the module docstring). Raises `Held` when the verdict does not prove the
    sender, `Quarantine` when a human must decide; both before anything is written."""
    if mail.automatic:
        return Decision(REJECTED, f"Automatic mail ({mail.automatic}); not answered.")
    if mail.sender in _our_addresses():
        return Decision(REJECTED, "Mail from the helpdesk's own address (a loop); not answered.")
    user, other_account = find_user(mail.sender)
    ticket = _find_ticket(mail, user) if user is not None else None
    # Who the mail may speak for is settled before anything is written or answered.
    if user is not None and is_agent(user):
        trust.check_agent()
        return _from_agent(mail, trust, user, ticket, at=at)
    if user is not None:
        trust.check_customer(for_someone_else=ticket is not None and ticket.requester_id != user.pk)
        return _from_customer(mail, user, ticket, at=at)
    return _from_unknown(mail, trust, other_account=other_account, at=at)


def find_user(address: str):
    """(the agent or customer with this address or None, whether another account has the address)."""
    users = list(
        get_user_model()
        .objects.filter(email__iexact=address)
        .select_related("membership")
        .order_by("pk")[:10]
    )
    usable = [user for user in users if is_agent(user) or customer_membership(user) is not None]
    if len(usable) > 1:
        names = ", ".join(user.get_username() for user in usable)
        raise Quarantine(f"Ambiguous sender: several accounts use {address} ({names}).")
    return (usable[0] if usable else None), bool(users)


def _our_addresses() -> set[str]:
    return {
        parseaddr(address)[1].lower() for address in (settings.DEFAULT_FROM_EMAIL, settings.SUPPORT_EMAIL)
    } - {""}


def _find_ticket(mail: ParsedMail, user) -> Ticket | None:
    """The ticket the mail answers, if the sender may see it (see the module docstring)."""
    candidates = [int(number) for number in _REFERENCE_TAG_RE.findall(mail.subject)]
    ours = re.compile(rf"^<ticket-(\d{{1,18}})(?:\.[^@<>]*)?@{re.escape(mail_domain())}>$", re.IGNORECASE)
    filed = dict(
        InboundEmail.objects.filter(message_id__in=mail.thread_ids, ticket__isnull=False).values_list(
            "message_id", "ticket_id"
        )
    )
    for message_id in mail.thread_ids:
        match = ours.match(message_id)
        if match:
            candidates.append(int(match.group(1)))
        elif message_id in filed:
            candidates.append(filed[message_id])
    for pk in dict.fromkeys(candidates):
        ticket = Ticket.objects.filter(pk=pk).first()
        if ticket is not None and can_view_ticket(user, ticket):
            return ticket
    return None


def _from_customer(mail: ParsedMail, user, ticket: Ticket | None, *, at: datetime) -> Decision:
    if ticket is not None and ticket.status != Status.CLOSED:
        files, refused = _screen(mail.attachments)
        body = _with_refusals(_reply_text(mail.text), refused)
        reply = ticket_reply(
            ticket=ticket, author=user, body=body, channel=Channel.EMAIL, attachments=files, at=at
        )
        return Decision(PROCESSED, f"Reply on {ticket.reference}.", ticket=ticket, reply=reply)
    if ticket is not None:
        intro = f'Follow-up to {ticket.reference} ("{ticket.subject}"), which is closed.'
        new = _open_ticket(mail, user, text=f"{intro}\n\n{_reply_text(mail.text)}", at=at)
        return Decision(PROCESSED, f"Follow-up {new.reference} to closed {ticket.reference}.", ticket=new)
    new = _open_ticket(mail, user, text=mail.text or NO_TEXT, at=at)
    return Decision(PROCESSED, f"New ticket {new.reference}.", ticket=new)


def _from_agent(mail: ParsedMail, trust: Trust, agent, ticket: Ticket | None, *, at: datetime) -> Decision:
    if ticket is None:
        explanation = (
            "Your email names no ticket you can answer (keep [HD-n] in the subject). Agents open tickets "
            "for customers in the console, not by email."
        )
        return _answered(mail, trust, REJECTED, "Agent mail without a ticket.", explanation, console_hint())
    if ticket.status == Status.CLOSED:
        explanation = f"{ticket.reference} is closed, so your email was not posted on it."
        return _answered(
            mail, trust, REJECTED, f"Agent mail on closed {ticket.reference}.", explanation, console_hint()
        )
    files, refused = _screen(mail.attachments)
    body = _with_refusals(_reply_text(mail.text), refused)
    reply = ticket_reply(
        ticket=ticket, author=agent, body=body, channel=Channel.EMAIL, attachments=files, at=at
    )
    return Decision(PROCESSED, f"Agent reply on {ticket.reference}.", ticket=ticket, reply=reply)


def _from_unknown(mail: ParsedMail, trust: Trust, *, other_account: bool, at: datetime) -> Decision:
    if settings.EMAIL_IN_UNKNOWN_SENDERS == "open" and not other_account:
        # The new requester is mailed ("ticket received"): a forged From would make us mail a victim.
        trust.check_new_account()
        name = settings.EMAIL_IN_DEFAULT_ORGANIZATION
        organization = Organization.objects.filter(name=name).first()
        if organization is None:
            raise Quarantine(
                f"EMAIL_IN_UNKNOWN_SENDERS is 'open' but the organization {name!r} "
                "(EMAIL_IN_DEFAULT_ORGANIZATION) does not exist."
            )
        user = _new_customer(mail, organization)
        new = _open_ticket(mail, user, text=mail.text or NO_TEXT, at=at)
        return Decision(
            PROCESSED,
            f"New ticket {new.reference}; {mail.sender} joined {organization.name} as a requester.",
            ticket=new,
        )
    # An inactive or non-customer account with this address is not recreated by `open` either.
    why = "its account cannot open tickets" if other_account else "no account uses it"
    if not trust.may_answer():
        return Decision(
            REJECTED,
            f"{UNKNOWN_SENDER} ({why}); its address is not authenticated "
            f"(verdict: {trust.verdict.describe()}), so not answered.",
        )
    if _answered_recently(mail.sender, at):
        return Decision(REJECTED, f"{UNKNOWN_SENDER} ({why}); answered within the last day already.")
    explanation = (
        f"We could not open a ticket from your email: {mail.sender} is not registered with our support desk."
    )
    return Decision(
        REJECTED,
        f"{UNKNOWN_SENDER} ({why}); answered with a pointer to the portal.",
        answer=refusal(mail, explanation, hint=portal_hint()),
    )


def _answered_recently(address: str, at: datetime) -> bool:
    return InboundEmail.objects.filter(
        from_address__iexact=address,
        status=REJECTED,
        reason__startswith=UNKNOWN_SENDER,
        reason__endswith="answered with a pointer to the portal.",
        received_at__gt=at - ANSWER_AGAIN_AFTER,
    ).exists()


def _open_ticket(mail: ParsedMail, user, *, text: str, at: datetime) -> Ticket:
    files, refused = _screen(mail.attachments)
    return ticket_create(
        requester=user,
        subject=_ticket_subject(mail.subject),
        description=_with_refusals(text, refused),
        channel=Channel.EMAIL,
        attachments=files,
        at=at,
    )


def _new_customer(mail: ParsedMail, organization: Organization):
    """The sender as a requester of `organization`, with no usable password (they set one through
    password reset), under a username made from the address (numbered when taken)."""
    User = get_user_model()
    base = re.sub(r"[^\w.@+-]", "_", mail.sender)[:USERNAME_MAX]
    username, number = base, 1
    while User.objects.filter(username__iexact=username).exists():
        number += 1
        suffix = f"+{number}"
        username = base[: USERNAME_MAX - len(suffix)] + suffix
    first, _, last = mail.sender_name.partition(" ")
    return customer_create(
        username=User.normalize_username(username),
        organization=organization,
        email=mail.sender,
        first_name=first[:150],
        last_name=last.strip()[:150],
    )


def _ticket_subject(subject: str) -> str:
    # Our tag may name a ticket the sender cannot see; it must not suggest the new ticket is that one.
    subject = _REPLY_PREFIX_RE.sub("", clean_line(_REFERENCE_TAG_RE.sub("", subject)))
    return (subject or NO_SUBJECT)[:SUBJECT_MAX]


def _reply_text(text: str) -> str:
    # A reply written only between the quoted lines would trim to nothing: keep it all then.
    return trim_quoted(text) or text or NO_TEXT


def _screen(files: list[ContentFile]) -> tuple[list[ContentFile], list[str]]:
    """Split the attachments into those the upload checks accept and the reasons for the others, so a
    refused file costs its own place only (the services check the accepted ones again as they store)."""
    accepted, refused = [], []
    for upload in files:
        try:
            check_upload(upload).content.close()
        except ValidationError as exc:
            refused.extend(exc.messages)
        else:
            accepted.append(upload)
    return accepted, refused


def _with_refusals(text: str, refused: list[str]) -> str:
    if not refused:
        return text
    lines = "\n".join(f"- {reason}" for reason in refused)
    return f"{text}\n\n--\nAttachments not accepted:\n{lines}"


def _answered(
    mail: ParsedMail, trust: Trust, status: str, reason: str, explanation: str, hint: str
) -> Decision:
    """A decision answered with a refusal, if the sender's address is proven (no backscatter)."""
    if not trust.may_answer():
        return Decision(status, f"{reason} Its address is not authenticated, so not answered.")
    return Decision(status, reason, answer=refusal(mail, explanation, hint=hint))
