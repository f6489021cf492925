"""Email in: turn a raw mail into a ticket, a reply on its ticket, or a recorded refusal.

`process(raw)` handles one mail; `fetch_from(source)` handles every unread mail of a `MailSource` and
tells the source what became of each. Every write goes through `tickets.services`.

What a mail becomes:

- **Idempotent.** Each mail leaves one `InboundEmail` row keyed by its Message-ID (a synthetic
  `<sha256-…@helpdesk.invalid>` from its bytes when it has none), written in the same transaction as
  the ticket or reply. Reading a mail again finds the row and changes nothing; two fetchers racing on
  one mail collide on the unique key and the loser's work rolls back. A quarantined row is the
  exception: a later attempt (an operator moved the mail back after a fix) may still succeed.
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
  failed is held; automatic answers go out only on a pass. A held mail is quarantined with its bytes
  until an agent releases it (`tickets.channels.email_release`).
- **Content.** The text part is preferred; an HTML-only body is sanitized with nh3 and turned into
  text (scripts and styles dropped, line breaks kept). Further inline text parts (not other versions
  of the body) are added below it in order. Replies lose their quoted history ("On … wrote:",
  "-----Original Message-----", Outlook's "From: … Sent: …" block, trailing "> " lines): the history is
  on the ticket already. A new ticket keeps the whole text, since a forwarded mail is often the report.
  Attachments pass the same checks as uploads; a refused file does not lose the mail: its name and the
  reason are listed at the end of the text.
- **Quarantine.** A mail that cannot be read (no sender, truncated MIME, corrupt base64, …) or whose
  handling raises is recorded as quarantined with the reason, set aside by the source, and the fetch
  goes on. Only when even that record cannot be written (the database is down) is the mail left unread
  for the next fetch.
"""

from __future__ import annotations

import hashlib
import html
import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import errors as email_errors
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from email.parser import BytesHeaderParser
from email.utils import make_msgid, parseaddr

import nh3
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone

from tickets.attachments import check_upload
from tickets.channels.mail_auth import Verdict
from tickets.channels.mail_sources import MailSource
from tickets.channels.sender_auth import Held, Trust, sender_verdict
from tickets.models import Channel, InboundEmail, Membership, Message, Organization, Status, Ticket
from tickets.notifications import mail_domain
from tickets.permissions import can_view_ticket, customer_membership, is_agent
from tickets.services import ticket_create, ticket_reply

logger = logging.getLogger(__name__)

PROCESSED = InboundEmail.Status.PROCESSED
REJECTED = InboundEmail.Status.REJECTED
QUARANTINED = InboundEmail.Status.QUARANTINED
#: An outcome of `process` that leaves no row: the mail was handled before.
DUPLICATE = "duplicate"

SUBJECT_MAX = Ticket._meta.get_field("subject").max_length
NO_SUBJECT = "(no subject)"
NO_TEXT = "(The email had no text.)"
UNKNOWN_SENDER = "Unknown sender"
#: How often at most an unknown address is answered.
ANSWER_AGAIN_AFTER = timedelta(days=1)

_REFERENCE_TAG_RE = re.compile(r"\[\s*HD-(\d{1,18})\s*\]", re.IGNORECASE)
_REPLY_PREFIX_RE = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MSGID_RE = re.compile(r"<[^<>\s\x00-\x1f\x7f]+>")

#: MIME damage that loses content: such a mail goes to quarantine rather than in half.
_SERIOUS_DEFECTS = {
    email_errors.StartBoundaryNotFoundDefect: "its MIME parts are missing (no part starts with the boundary)",
    email_errors.CloseBoundaryNotFoundDefect: "it is truncated (a MIME part's closing boundary is missing)",
    email_errors.NoBoundaryInMultipartDefect: "it is multipart but declares no boundary",
    email_errors.MultipartInvariantViolationDefect: "its multipart structure is broken",
    email_errors.InvalidBase64CharactersDefect: "a part's base64 encoding is corrupt",
    email_errors.InvalidBase64LengthDefect: "a part's base64 encoding is truncated",
}
TOO_DEEP = "Malformed mail: its MIME parts are nested too deeply to be read."
TOO_LARGE = "Too large to read: {size}, over the EMAIL_IN_MAX_BYTES limit; only its headers were read."
_UNDECODABLE = "Malformed mail: a part's MIME parameters cannot be decoded ({})."


class Quarantine(Exception):
    """A mail a human must look at; the message is the reason recorded."""


class _TooLarge(Quarantine):
    """A mail over EMAIL_IN_MAX_BYTES, with its headers (all that was read of it)."""

    def __init__(self, headers: MimeMessage, reason: str):
        super().__init__(reason)
        self.headers = headers


# --- Results ----------------------------------------------------------------------------------------


@dataclass
class Result:
    """What `process` did with one mail."""

    status: str
    message_id: str
    reason: str = ""
    ticket: Ticket | None = None


@dataclass
class FetchSummary:
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


@dataclass
class _Decision:
    status: str
    reason: str
    ticket: Ticket | None = None
    reply: Message | None = None
    answer: EmailMessage | None = None


# --- Parsing ----------------------------------------------------------------------------------------


@dataclass
class ParsedMail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    attachments: list[ContentFile]
    thread_ids: list[str]
    automatic: str
    #: The verdict on the sender (set by `process`, which knows whether an agent released the mail).
    trust: Trust = field(default_factory=Trust)


def synthetic_message_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@helpdesk.invalid>"


def _message_id(msg: MimeMessage, raw: bytes) -> str:
    try:
        value = str(msg.get("Message-ID") or "").strip()
    except Exception:  # noqa: BLE001 - a header too broken to read is a missing header
        value = ""
    match = _MSGID_RE.search(value) or _MSGID_RE.fullmatch(f"<{value}>")  # some mailers omit the brackets
    value = match.group(0) if match else ""
    if not value:
        return synthetic_message_id(raw)
    if len(value) > InboundEmail._meta.get_field("message_id").max_length:
        return synthetic_message_id(value.encode())
    return value


def parse(msg: MimeMessage) -> ParsedMail:
    """The parts of `msg` the channel uses. Raises Quarantine for a mail that cannot be read safely."""
    name, sender = _sender(msg)
    # Damage first: the stdlib's get_body breaks on a multipart without a boundary or undecodable parameters.
    _refuse_unreadable(msg)
    body_part = msg.get_body(preferencelist=("plain", "html"))
    texts = list(_text_parts(msg, body_part))
    if body_part is not None and not any(part is body_part for part in texts):
        texts.insert(0, body_part)
    text = "\n\n".join(piece for piece in map(_readable_text, texts) if piece.strip())
    attachments = _attachments(msg, body_part)
    # Decoding records defects on the parts (corrupt base64), so look again now.
    _refuse_unreadable(msg)
    return ParsedMail(
        message_id="",
        sender=sender,
        sender_name=name,
        subject=_clean_line(_header(msg, "Subject")),
        text=_clean_text(text),
        attachments=attachments,
        thread_ids=_thread_ids(msg),
        automatic=_automatic(msg, sender),
    )


def _parsed(raw: bytes) -> MimeMessage:
    """The mail, parsed; a mail over EMAIL_IN_MAX_BYTES is not parsed past its headers (parsing costs grow
    faster than the size with deep nesting: one huge mail must not hold the fetch)."""
    if len(raw) > settings.EMAIL_IN_MAX_BYTES:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        raise _TooLarge(headers, TOO_LARGE.format(size=filesizeformat(len(raw))))
    try:
        return message_from_bytes(raw, policy=policy.default)
    except (LookupError, ValueError) as exc:  # the parser reads each part's Content-Type as it goes
        raise Quarantine(_UNDECODABLE.format(exc)) from exc


def _refuse_unreadable(msg: MimeMessage) -> None:
    """Raise Quarantine for MIME damage that loses content (`_SERIOUS_DEFECTS`) or a part unreadable."""
    try:
        for part in _parts(msg):
            # The stdlib decodes RFC 2231 parameters (filename*=utf-8''…) as it reads them, and raises for a
            # charset its codecs cannot use so (a NUL in the name, idna): such a part cannot be read at all.
            part.get_content_disposition()
            part.get_filename()
            for defect in part.defects:
                explanation = _SERIOUS_DEFECTS.get(type(defect))
                if explanation:
                    raise Quarantine(f"Malformed mail: {explanation} ({type(defect).__name__}).")
    except (LookupError, ValueError) as exc:
        raise Quarantine(_UNDECODABLE.format(exc)) from exc


def _header(msg: MimeMessage, name: str) -> str:
    try:
        return str(msg.get(name) or "")
    except Exception:  # noqa: BLE001 - an unreadable optional header counts as absent
        return ""


def _sender(msg: MimeMessage) -> tuple[str, str]:
    try:
        header = msg.get("From")
        addresses = header.addresses if header is not None else ()
    except Exception as exc:
        raise Quarantine(f"Malformed mail: its From header cannot be read ({exc}).") from exc
    for address in addresses:
        addr = (address.addr_spec or "").strip()
        local, _, domain = addr.rpartition("@")
        if local and "." in domain and " " not in addr and addr == _clean_line(addr):
            return _clean_line(address.display_name or ""), addr.lower()
    raise Quarantine("Malformed mail: no sender address in its From header.")


def _thread_ids(msg: MimeMessage) -> list[str]:
    """Message-IDs the mail answers, the most direct first: In-Reply-To, then References newest first."""
    ids = _MSGID_RE.findall(_header(msg, "In-Reply-To"))
    ids += reversed(_MSGID_RE.findall(_header(msg, "References")))
    return list(dict.fromkeys(ids))


def _automatic(msg: MimeMessage, sender: str) -> str:
    """Why the mail is machine-made (never to be answered), or "" for a person's mail."""
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        # The value goes into the recorded reason: an encoded-word may have decoded to a NUL.
        return f"Auto-Submitted: {_clean_line(auto_submitted)}"
    # Not "list": mailing lists and Google Groups (a common way to run support@) set it on people's mail.
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(name) is not None and _header(msg, name).strip().lower() not in ("no", "false"):
            return name
    if msg.get_content_type() == "multipart/report":
        return "a delivery report"
    if _header(msg, "Return-Path").strip() == "<>":
        return "a bounce (null sender)"
    if sender.partition("@")[0] in ("mailer-daemon", "postmaster"):
        return "a bounce (mailer daemon)"
    return ""


def _parts(part: MimeMessage) -> Iterator[MimeMessage]:
    """The part and its sub-parts, not descending into attached emails (those are files)."""
    yield part
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from _parts(sub)


def _text_parts(part: MimeMessage, body_part: MimeMessage | None) -> Iterator[MimeMessage]:
    """The parts holding what the sender wrote, in order: the body and any other inline text part (Apple
    Mail puts the text after an inline picture in a part of its own), but of a multipart/alternative only
    the branch its preferred version is in."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        subparts = list(part.iter_parts())
        if part.get_content_subtype() == "alternative":
            best = part.get_body(preferencelist=("plain", "html"))
            chosen = [sub for sub in subparts if any(inner is best for inner in _parts(sub))]
            subparts = chosen or subparts
        for sub in subparts:
            yield from _text_parts(sub, body_part)
    elif part is body_part or (
        part.get_content_maintype() == "text"
        and not part.get_filename()
        and part.get_content_disposition() != "attachment"
    ):
        yield part


def _readable_text(part: MimeMessage) -> str:
    text = _text_of(part)
    return html_to_text(text) if part.get_content_type() == "text/html" else text


def _attachments(msg: MimeMessage, body_part: MimeMessage | None) -> list[ContentFile]:
    files = []
    for part in _parts(msg):
        if part is body_part or part.get_content_maintype() == "multipart":
            continue
        filename = part.get_filename()
        content_type = part.get_content_type()
        if (
            not filename
            and part.get_content_disposition() != "attachment"
            and content_type.startswith("text/")
        ):
            continue  # the other version of the body (text/html beside text/plain), not a file
        if part.get_content_maintype() == "message":
            inner = part.get_payload()
            data = (inner[0] if isinstance(inner, list) else inner).as_bytes()
            default_name = "message.eml"
        else:
            data = part.get_payload(decode=True) or b""
            default_name = f"attachment-{len(files) + 1}{mimetypes.guess_extension(content_type) or ''}"
        files.append(ContentFile(data, name=filename or default_name))
    return files


def _text_of(part: MimeMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError):
        # An unknown or lying charset (ValueError: a charset name with a NUL in it, or a codec such as
        # idna that cannot replace what it fails to decode): keep the text readable rather than lose it.
        return (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")


def _storable(value: str) -> str:
    """Text the database accepts: PostgreSQL refuses NUL characters, and undecodable header bytes come
    out of the parser as lone surrogates, which no database encoding takes."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _clean_line(value: str) -> str:
    return " ".join(_storable(value).split())


def _clean_text(text: str) -> str:
    # Mail line ends vary.
    text = _storable(text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# --- HTML and quoted history ------------------------------------------------------------------------

_HTML_KEPT_TAGS = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
_HTML_KEPT_TAGS |= {"blockquote", "pre", "table", "ul", "ol"}
_HTML_DROPPED_WITH_CONTENT = {"script", "style", "title", "template", "noscript"}


def html_to_text(markup: str) -> str:
    """Plain text from an HTML body: sanitized by nh3 first (scripts, styles and every attribute go),
    then block elements become line breaks and quoted blocks "> " lines."""
    # \x01 and \x02 mark where quoted blocks open and close below; a mail's own are dropped first.
    markup = markup.replace("\x01", "").replace("\x02", "")
    clean = nh3.clean(
        markup,
        tags=_HTML_KEPT_TAGS,
        clean_content_tags=_HTML_DROPPED_WITH_CONTENT,
        attributes={},
        strip_comments=True,
    )
    # Source line breaks are just spaces in HTML; the tags decide where lines end.
    clean = re.sub(r"\s+", " ", clean)
    clean = clean.replace("<blockquote>", "\n\x01").replace("</blockquote>", "\n\x02")
    clean = re.sub(r"<br\s*/?>|</?(p|div|h[1-6]|tr|table|ul|ol|pre)>|<hr\s*/?>", "\n", clean)
    clean = clean.replace("<li>", "\n- ")
    clean = re.sub(r"</t[dh]>", " ", clean)
    # Only the bare tags kept above are left (nh3 escaped every "<" of the text): drop them, then decode
    # the entities (html.unescape never yields \x01 or \x02).
    text = html.unescape(re.sub(r"<[^>]*>", "", clean))
    lines, depth = [], 0
    for line in text.split("\n"):
        while line[:1] in ("\x01", "\x02") and line:
            depth = depth + 1 if line[0] == "\x01" else max(0, depth - 1)
            line = line[1:]
        line = " ".join(line.split())
        lines.append("> " * depth + line if depth and line else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_WROTE_RE = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE)
_ORIGINAL_RE = re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM_RE = re.compile(r"^\s*\*?From:\*?\s", re.IGNORECASE)
_OUTLOOK_SENT_RE = re.compile(r"^\s*\*?(Sent|Date):\*?\s", re.IGNORECASE)
_RULE_RE = re.compile(r"^\s*_{8,}\s*$")


def trim_quoted(text: str) -> str:
    """The reply without the history mail clients quote below it."""
    lines = text.split("\n")
    cut = len(lines)
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _ORIGINAL_RE.match(line) or _WROTE_RE.match(line):
            cut = index
        elif re.match(r"^\s*On\s", line) and re.search(r"\bwrote:\s*$", following):
            cut = index  # Gmail wraps a long "On <date>, <name> <address> wrote:" over two lines
        elif _OUTLOOK_FROM_RE.match(line) and any(
            _OUTLOOK_SENT_RE.match(x) for x in lines[index + 1 : index + 4]
        ):
            cut = index - 1 if index and _RULE_RE.match(lines[index - 1]) else index
        else:
            continue
        break
    lines = lines[:cut]
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    return "\n".join(lines).strip()


# --- Processing -------------------------------------------------------------------------------------


def process(raw: bytes, *, at: datetime | None = None, released_by=None) -> Result:
    """Handle one mail (see the module docstring). Raises only when not even a quarantine record can
    be written (the database is unreachable); the caller then leaves the mail for the next fetch.

    `released_by` is the agent who released a mail held for sender authentication: that check (only)
    is then passed, and the row records who released it."""
    at = at or timezone.now()
    message_id, sender, subject = synthetic_message_id(raw), "", ""
    verdict: Verdict | None = None
    try:
        msg = _parsed(raw)
        message_id = _message_id(msg, raw)
        sender, subject = (
            _clean_line(parseaddr(_header(msg, "From"))[1]),
            _clean_line(_header(msg, "Subject")),
        )
        if _seen(message_id):
            return Result(DUPLICATE, message_id, "Already handled.")
        mail = parse(msg)
        mail.message_id = message_id
        sender, subject = mail.sender, mail.subject
        verdict = sender_verdict(msg, sender)
        mail.trust = Trust(verdict=verdict, released=released_by is not None)
        with transaction.atomic():
            # A quarantined earlier attempt gives way to this one.
            InboundEmail.objects.filter(message_id=message_id, status=QUARANTINED).delete()
            decision = _decide(mail, at=at)
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
    except _TooLarge as exc:
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
        _send_answer(decision.answer, message_id)
    logger.info("Email %s from %s: %s. %s", message_id, sender, decision.status, decision.reason)
    return Result(decision.status, message_id, decision.reason, decision.ticket)


def _too_large(exc: _TooLarge, raw: bytes, at: datetime) -> Result:
    """Quarantine a mail over EMAIL_IN_MAX_BYTES under what its headers say (once per Message-ID)."""
    message_id, sender, subject = synthetic_message_id(raw), "", ""
    try:
        message_id = _message_id(exc.headers, raw)
        subject = _clean_line(_header(exc.headers, "Subject"))
        sender = _sender(exc.headers)[1]
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
    return {"auth_result": verdict.result, "auth_details": _clean_line(verdict.describe())[:255]}


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
    reason = _storable(reason)
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


def _send_answer(answer: EmailMessage, message_id: str) -> None:
    try:
        answer.send()
    except Exception:  # the decision is recorded; a lost courtesy answer is only logged
        logger.exception("Could not send the answer to email %s", message_id)


def _decide(mail: ParsedMail, *, at: datetime) -> _Decision:
    if mail.automatic:
        return _Decision(REJECTED, f"Automatic mail ({mail.automatic}); not answered.")
    if mail.sender in _our_addresses():
        return _Decision(REJECTED, "Mail from the helpdesk's own address (a loop); not answered.")
    user, other_account = _find_user(mail.sender)
    ticket = _find_ticket(mail, user) if user is not None else None
    # Who the mail may speak for is settled before anything is written or answered.
    if user is not None and is_agent(user):
        mail.trust.check_agent()
        return _from_agent(mail, user, ticket, at=at)
    if user is not None:
        mail.trust.check_customer(for_someone_else=ticket is not None and ticket.requester_id != user.pk)
        return _from_customer(mail, user, ticket, at=at)
    return _from_unknown(mail, other_account=other_account, at=at)


def _our_addresses() -> set[str]:
    return {
        parseaddr(address)[1].lower() for address in (settings.DEFAULT_FROM_EMAIL, settings.SUPPORT_EMAIL)
    } - {""}


def _find_user(address: str):
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


def _from_customer(mail: ParsedMail, user, ticket: Ticket | None, *, at: datetime) -> _Decision:
    if ticket is not None and ticket.status != Status.CLOSED:
        files, refused = _screen(mail.attachments)
        body = _with_refusals(_reply_text(mail.text), refused)
        reply = ticket_reply(
            ticket=ticket, author=user, body=body, channel=Channel.EMAIL, attachments=files, at=at
        )
        return _Decision(PROCESSED, f"Reply on {ticket.reference}.", ticket=ticket, reply=reply)
    if ticket is not None:
        intro = f'Follow-up to {ticket.reference} ("{ticket.subject}"), which is closed.'
        new = _open_ticket(mail, user, text=f"{intro}\n\n{_reply_text(mail.text)}", at=at)
        return _Decision(PROCESSED, f"Follow-up {new.reference} to closed {ticket.reference}.", ticket=new)
    new = _open_ticket(mail, user, text=mail.text or NO_TEXT, at=at)
    return _Decision(PROCESSED, f"New ticket {new.reference}.", ticket=new)


def _from_agent(mail: ParsedMail, agent, ticket: Ticket | None, *, at: datetime) -> _Decision:
    if ticket is None:
        explanation = (
            "Your email names no ticket you can answer (keep [HD-n] in the subject). Agents open tickets "
            "for customers in the console, not by email."
        )
        return _answered(mail, REJECTED, "Agent mail without a ticket.", explanation, _console_hint())
    if ticket.status == Status.CLOSED:
        explanation = f"{ticket.reference} is closed, so your email was not posted on it."
        return _answered(
            mail, REJECTED, f"Agent mail on closed {ticket.reference}.", explanation, _console_hint()
        )
    files, refused = _screen(mail.attachments)
    body = _with_refusals(_reply_text(mail.text), refused)
    reply = ticket_reply(
        ticket=ticket, author=agent, body=body, channel=Channel.EMAIL, attachments=files, at=at
    )
    return _Decision(PROCESSED, f"Agent reply on {ticket.reference}.", ticket=ticket, reply=reply)


def _from_unknown(mail: ParsedMail, *, other_account: bool, at: datetime) -> _Decision:
    if settings.EMAIL_IN_UNKNOWN_SENDERS == "open" and not other_account:
        # The new requester is mailed ("ticket received"): a forged From would make us mail a victim.
        mail.trust.check_new_account()
        name = settings.EMAIL_IN_DEFAULT_ORGANIZATION
        organization = Organization.objects.filter(name=name).first()
        if organization is None:
            raise Quarantine(
                f"EMAIL_IN_UNKNOWN_SENDERS is 'open' but the organization {name!r} "
                "(EMAIL_IN_DEFAULT_ORGANIZATION) does not exist."
            )
        user = _new_customer(mail, organization)
        new = _open_ticket(mail, user, text=mail.text or NO_TEXT, at=at)
        return _Decision(
            PROCESSED,
            f"New ticket {new.reference}; {mail.sender} joined {organization.name} as a requester.",
            ticket=new,
        )
    # An inactive or non-customer account with this address is not recreated by `open` either.
    why = "its account cannot open tickets" if other_account else "no account uses it"
    if not mail.trust.may_answer():
        return _Decision(
            REJECTED,
            f"{UNKNOWN_SENDER} ({why}); its address is not authenticated "
            f"(verdict: {mail.trust.verdict.describe()}), so not answered.",
        )
    if _answered_recently(mail.sender, at):
        return _Decision(REJECTED, f"{UNKNOWN_SENDER} ({why}); answered within the last day already.")
    explanation = (
        f"We could not open a ticket from your email: {mail.sender} is not registered with our support desk."
    )
    hint = (
        "To reach us, write from the email address of your helpdesk account, or open a ticket in the "
        f"portal:\n{_site_url()}/portal/tickets/new/"
    )
    return _Decision(
        REJECTED,
        f"{UNKNOWN_SENDER} ({why}); answered with a pointer to the portal.",
        answer=_refusal(mail, explanation, hint=hint),
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
    User = get_user_model()
    base = re.sub(r"[^\w.@+-]", "_", mail.sender)[:150]
    username, number = base, 1
    while User.objects.filter(username__iexact=username).exists():
        number += 1
        suffix = f"+{number}"
        username = base[: 150 - len(suffix)] + suffix
    first, _, last = mail.sender_name.partition(" ")
    # No password: create_user makes it unusable; the customer sets one through password reset.
    user = User.objects.create_user(
        username=username, email=mail.sender, first_name=first[:150], last_name=last.strip()[:150]
    )
    Membership.objects.create(user=user, organization=organization, role=Membership.Role.REQUESTER)
    return user


def _ticket_subject(subject: str) -> str:
    # Our tag may name a ticket the sender cannot see; it must not suggest the new ticket is that one.
    subject = _REPLY_PREFIX_RE.sub("", _clean_line(_REFERENCE_TAG_RE.sub("", subject)))
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


def _site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def _console_hint() -> str:
    return f"Work on tickets in the console: {_site_url()}/admin/"


def _answered(mail: ParsedMail, status: str, reason: str, explanation: str, hint: str) -> _Decision:
    """A decision answered with a refusal, if the sender's address is proven (no backscatter)."""
    if not mail.trust.may_answer():
        return _Decision(status, f"{reason} Its address is not authenticated, so not answered.")
    return _Decision(status, reason, answer=_refusal(mail, explanation, hint=hint))


def _refusal(mail: ParsedMail, explanation: str, *, hint: str) -> EmailMessage:
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
