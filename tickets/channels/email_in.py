"""Email in: turn a raw mail into a ticket, a reply on its ticket, or a recorded refusal.

`process(raw)` handles one mail; `fetch_from(source)` handles every unread mail of a `MailSource` and
tells the source what became of each. The work is shared out: `tickets.channels.mime` reads the mail,
`tickets.channels.sender_auth` judges its sender, `tickets.channels.email_routing` decides what it
becomes (every write through `tickets.services`), `tickets.channels.email_replies` writes any answer.
This module records the outcome:

- **Idempotent.** Each mail leaves one `InboundEmail` row keyed by its Message-ID (a synthetic
  `<sha256-…@helpdesk.invalid>` from its bytes when it has none), written in the same transaction as
  the ticket or reply. Reading a mail again finds the row and changes nothing; two fetchers racing on
  one mail collide on the unique key and the loser's work rolls back. A quarantined row is the
  exception: a later attempt (an operator moved the mail back after a fix) may still succeed.
- **Held.** A mail whose sender the verdict does not prove is quarantined with its bytes until an
  agent releases it (`tickets.channels.email_release`).
- **Quarantine.** A mail that cannot be read (no sender, truncated MIME, corrupt base64, …) or whose
  handling raises is recorded as quarantined with the reason, set aside by the source, and the fetch
  goes on. Only when even that record cannot be written (the database is down) is the mail left unread
  for the next fetch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets.channels import mime
from tickets.channels.email_replies import send_answer
from tickets.channels.email_routing import decide
from tickets.channels.mail_auth import Verdict
from tickets.channels.mail_sources import MailSource
from tickets.channels.mime import TOO_DEEP, Quarantine, TooLarge, clean_line, header, storable
from tickets.channels.sender_auth import Held, Trust, sender_verdict
from tickets.models import InboundEmail, Ticket

logger = logging.getLogger(__name__)

PROCESSED = InboundEmail.Status.PROCESSED
REJECTED = InboundEmail.Status.REJECTED
QUARANTINED = InboundEmail.Status.QUARANTINED
#: An outcome of `process` that leaves no row: the mail was handled before.
DUPLICATE = "duplicate"

MESSAGE_ID_MAX = InboundEmail._meta.get_field("message_id").max_length


@dataclass
class Result:
    """What `process` did with one mail."""

    status: str
    message_id: str
    reason: str = ""
    ticket: Ticket | None = None


@dataclass
class FetchSummary:
    """What `fetch_from` did with a source's mails, counted by outcome."""

    processed: int = 0
    duplicates: int = 0
    rejected: int = 0
    quarantined: int = 0
    #: Mails left unread in the source because recording them failed; the next fetch retries them.
    left: int = 0
    results: list[Result] = field(default_factory=list, repr=False)

    def add(self, result: Result) -> None:
        self.results.append(result)
        if result.status == PROCESSED:
            self.processed += 1
        elif result.status == DUPLICATE:
            self.duplicates += 1
        elif result.status == REJECTED:
            self.rejected += 1
        else:
            self.quarantined += 1

    @property
    def total(self) -> int:
        return self.processed + self.duplicates + self.rejected + self.quarantined + self.left

    def __str__(self) -> str:
        text = (
            f"{self.total} mail(s): {self.processed} processed, {self.duplicates} already seen, "
            f"{self.rejected} rejected, {self.quarantined} quarantined"
        )
        return text + (f", {self.left} left for the next fetch" if self.left else "")


def process(raw: bytes, *, at: datetime | None = None, released_by=None) -> Result:
    """Handle one mail (see the module docstring). Raises only when not even a quarantine record can
    be written (the database is unreachable); the caller then leaves the mail for the next fetch.

    `released_by` is the agent who released a mail held for sender authentication: that check (only)
    is then passed, and the row records who released it."""
    at = at or timezone.now()
    message_id, sender, subject = mime.synthetic_message_id(raw), "", ""
    verdict: Verdict | None = None
    try:
        msg = mime.read(raw, max_bytes=settings.EMAIL_IN_MAX_BYTES)
        message_id = mime.message_id(msg, raw, max_length=MESSAGE_ID_MAX)
        sender, subject = (
            clean_line(parseaddr(header(msg, "From"))[1]),
            clean_line(header(msg, "Subject")),
        )
        if _seen(message_id):
            return Result(DUPLICATE, message_id, "Already handled.")
        mail = mime.parse(msg)
        mail.message_id = message_id
        sender, subject = mail.sender, mail.subject
        verdict = sender_verdict(msg, sender)
        trust = Trust(verdict=verdict, released=released_by is not None)
        with transaction.atomic():
            # A quarantined earlier attempt gives way to this one.
            InboundEmail.objects.filter(message_id=message_id, status=QUARANTINED).delete()
            decision = decide(mail, trust=trust, at=at)
            InboundEmail.objects.create(
                message_id=message_id,
                from_address=sender[:254],
                subject=subject[:255],
                received_at=at,
                status=decision.status,
                reason=decision.reason,
                ticket=decision.ticket,
                reply=decision.reply,
                raw_size=len(raw),
                **_auth_fields(verdict),
                released_by=released_by,
                released_at=at if released_by is not None else None,
            )
    except IntegrityError as exc:
        if _seen(message_id):
            return Result(DUPLICATE, message_id, "Handled meanwhile by another fetch.")
        return _quarantine(message_id, sender, subject, raw, f"{type(exc).__name__}: {exc}", at)
    except TooLarge as exc:
        return _too_large(exc, raw, at)
    except Held as exc:
        # Kept whole in the row: an agent who judges it genuine releases it from the console.
        return _quarantine(message_id, sender, subject, raw, str(exc), at, verdict=verdict, held=True)
    except (Quarantine, ValidationError) as exc:
        return _quarantine(message_id, sender, subject, raw, _describe(exc), at, verdict=verdict)
    except RecursionError:
        # The stdlib parser and walkers recurse once per level of MIME nesting.
        return _quarantine(message_id, sender, subject, raw, TOO_DEEP, at, verdict=verdict)
    except Exception as exc:  # one bad mail must not stop the fetch
        logger.exception("Email %s could not be processed; quarantining it", message_id)
        return _quarantine(message_id, sender, subject, raw, _describe(exc), at, verdict=verdict)
    if decision.answer is not None:
        send_answer(decision.answer, message_id)
    logger.info("Email %s from %s: %s. %s", message_id, sender, decision.status, decision.reason)
    return Result(decision.status, message_id, decision.reason, decision.ticket)


def _too_large(exc: TooLarge, raw: bytes, at: datetime) -> Result:
    """Quarantine a mail over EMAIL_IN_MAX_BYTES under what its headers say (once per Message-ID)."""
    message_id, sender, subject = mime.synthetic_message_id(raw), "", ""
    try:
        message_id = mime.message_id(exc.headers, raw, max_length=MESSAGE_ID_MAX)
        subject = clean_line(header(exc.headers, "Subject"))
        sender = mime.sender_of(exc.headers)[1]
    except Exception:  # noqa: BLE001 - unreadable headers: quarantined under the synthetic id
        logger.warning("Oversize email %s: unreadable headers", message_id)
    if _seen(message_id):
        return Result(DUPLICATE, message_id, "Already handled.")
    return _quarantine(message_id, sender, subject, raw, str(exc), at)


def _seen(message_id: str) -> bool:
    return InboundEmail.objects.filter(message_id=message_id).exclude(status=QUARANTINED).exists()


def _describe(exc: Exception) -> str:
    if isinstance(exc, Quarantine):
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"Refused by the helpdesk: {'; '.join(exc.messages)}"
    return f"{type(exc).__name__}: {exc}"


def _auth_fields(verdict: Verdict | None) -> dict:
    if verdict is None:
        return {"auth_result": "", "auth_details": ""}
    return {"auth_result": verdict.result, "auth_details": clean_line(verdict.describe())[:255]}


def _quarantine(
    message_id: str,
    sender: str,
    subject: str,
    raw: bytes,
    reason: str,
    at: datetime,
    *,
    verdict: Verdict | None = None,
    held: bool = False,
) -> Result:
    reason = storable(reason)
    logger.warning("Email %s from %s quarantined: %s", message_id, sender or "?", reason)
    values = {
        "from_address": sender[:254],
        "subject": subject[:255],
        "received_at": at,
        "status": QUARANTINED,
        "reason": reason,
        "ticket": None,
        "reply": None,
        "raw_size": len(raw),
        **_auth_fields(verdict),
        "held_mail": raw if held else None,
        "released_by": None,
        "released_at": None,
    }
    if not InboundEmail.objects.filter(message_id=message_id, status=QUARANTINED).update(**values):
        try:
            with transaction.atomic():
                InboundEmail.objects.create(message_id=message_id, **values)
        except IntegrityError:
            return Result(DUPLICATE, message_id, "Handled meanwhile by another fetch.")
    return Result(QUARANTINED, message_id, reason)


# --- Fetching ---------------------------------------------------------------------------------------


def fetch_from(source: MailSource) -> FetchSummary:
    """Process every unread mail of `source`, tell the source what became of each, and close it.

    Errors of the source itself (cannot connect, log in, list) propagate: nothing was read.
    """
    summary = FetchSummary()
    try:
        for raw in source.fetch():
            try:
                result = process(raw.data)
            except Exception:  # e.g. the database is down: leave the mail for the next fetch
                logger.exception("Email %s in %s could not be recorded; leaving it unread", raw.key, source)
                summary.left += 1
                continue
            summary.add(result)
            try:
                if result.status == QUARANTINED:
                    source.quarantine(raw.key, result.reason)
                else:
                    source.done(raw.key)
            except Exception:  # recorded already: the next fetch sees a duplicate
                logger.exception("Could not mark email %s as handled in %s", raw.key, source)
    finally:
        source.close()
    return summary
