"""The automatic answers the email channel sends: a refusal, threaded on the mail it answers.

Only `tickets.channels.email_routing` decides whether a mail is answered (never an automatic mail,
and only to an authenticated address); this module writes the answer and sends it once the decision
is recorded. Every answer is marked Auto-Submitted, so the sender's own responder stays quiet.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from tickets.channels.mime import ParsedMail
from tickets.notifications import mail_domain

logger = logging.getLogger(__name__)


def refusal(mail: ParsedMail, explanation: str, *, hint: str) -> EmailMessage:
    """An automatic answer, threaded on the sender's mail and marked so their responder stays quiet."""
    body = render_to_string("tickets/email/mail_refused.txt", {"explanation": explanation, "hint": hint})
    headers = {"Message-ID": make_msgid(domain=mail_domain()), "Auto-Submitted": "auto-replied"}
    if not mail.message_id.endswith("@helpdesk.invalid>"):
        headers |= {"In-Reply-To": mail.message_id, "References": mail.message_id}
    subject = mail.subject or "your email"
    return EmailMessage(
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.sender],
        headers=headers,
    )


def console_hint() -> str:
    """Where agents work on tickets instead of by email."""
    return f"Work on tickets in the console: {_site_url()}/admin/"


def portal_hint() -> str:
    """How someone we do not know reaches us instead."""
    return (
        "To reach us, write from the email address of your helpdesk account, or open a ticket in the "
        f"portal:\n{_site_url()}/portal/tickets/new/"
    )


def send_answer(answer: EmailMessage, message_id: str) -> None:
    """Send `answer` to the mail `message_id`; a failure is logged, never raised."""
    try:
        answer.send()
    except Exception:  # the decision is recorded; a lost courtesy answer is only logged
        logger.exception("Could not send the answer to email %s", message_id)


def _site_url() -> str:
    return settings.SITE_URL.rstrip("/")
