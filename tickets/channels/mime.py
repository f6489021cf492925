"""Reading a mail: its headers, its text, its attachments, its quoted history.

Pure reading, no decisions and no database: `read` parses the bytes (refusing what cannot be read
safely), `parse` takes out what the email channel uses (`ParsedMail`). What the mail then becomes is
`tickets.channels.email_routing`'s to decide.

- **Content.** The text part is preferred; an HTML-only body is sanitized with nh3 and turned into
  text (scripts and styles dropped, line breaks kept). Further inline text parts (not other versions
  of the body) are added below it in order. Attachments are returned as files, attached emails
  included (as `.eml`); a part with no name gets one from its content type.
- **Quoted history.** `trim_quoted` drops what mail clients quote below a reply ("On … wrote:",
  "-----Original Message-----", Outlook's "From: … Sent: …" block, trailing "> " lines).
- **Charsets.** An unknown or lying charset keeps the text readable (undecodable bytes replaced)
  rather than losing it; NULs and lone surrogates are removed, since no database stores them.
- **Damage.** A mail that cannot be read whole (no sender, truncated MIME, corrupt base64, parameters
  no codec can decode, over the size limit) raises `Quarantine` with the reason: it goes to a human
  rather than being filed in half.
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors as email_errors
from email import message_from_bytes, policy
from email.message import EmailMessage as MimeMessage
from email.parser import BytesHeaderParser

import nh3
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat

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


TOO_DEEP = "Malformed mail: its MIME parts are nested too deeply to be read."
TOO_LARGE = "Too large to read: {size}, over the EMAIL_IN_MAX_BYTES limit; only its headers were read."
_UNDECODABLE = "Malformed mail: a part's MIME parameters cannot be decoded ({})."


class Quarantine(Exception):
    """A mail a human must look at; the message is the reason recorded."""


class TooLarge(Quarantine):
    """A mail over EMAIL_IN_MAX_BYTES, with its headers (all that was read of it)."""

    def __init__(self, headers: MimeMessage, reason: str):
        super().__init__(reason)
        self.headers = headers


@dataclass
class ParsedMail:
    """What the email channel uses of a mail, cleaned for storage."""

    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    attachments: list[ContentFile]
    thread_ids: list[str]
    automatic: str


def synthetic_message_id(raw: bytes) -> str:
    """A Message-ID for a mail that has none (or an unusable one), the same for the same bytes."""
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@helpdesk.invalid>"


def message_id(msg: MimeMessage, raw: bytes, *, max_length: int) -> str:
    """The mail's Message-ID, or a synthetic one from its bytes when it has none that fits `max_length`."""
    try:
        value = str(msg.get("Message-ID") or "").strip()
    except Exception:  # noqa: BLE001 - a header too broken to read is a missing header
        value = ""
    match = _MSGID_RE.search(value) or _MSGID_RE.fullmatch(f"<{value}>")  # some mailers omit the brackets
    value = match.group(0) if match else ""
    if not value:
        return synthetic_message_id(raw)
    if len(value) > max_length:
        return synthetic_message_id(value.encode())
    return value


def read(raw: bytes, *, max_bytes: int) -> MimeMessage:
    """The mail, parsed; a mail over `max_bytes` is not parsed past its headers (parsing costs grow
    faster than the size with deep nesting: one huge mail must not hold the fetch)."""
    if len(raw) > max_bytes:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        raise TooLarge(headers, TOO_LARGE.format(size=filesizeformat(len(raw))))
    try:
        return message_from_bytes(raw, policy=policy.default)
    except (LookupError, ValueError) as exc:  # the parser reads each part's Content-Type as it goes
        raise Quarantine(_UNDECODABLE.format(exc)) from exc


def parse(msg: MimeMessage) -> ParsedMail:
    """The parts of `msg` the channel uses. Raises Quarantine for a mail that cannot be read safely."""
    name, sender = sender_of(msg)
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
        message_id="",  # known to the caller, which read the raw bytes
        sender=sender,
        sender_name=name,
        subject=clean_line(header(msg, "Subject")),
        text=_clean_text(text),
        attachments=attachments,
        thread_ids=_thread_ids(msg),
        automatic=_automatic(msg, sender),
    )


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


def header(msg: MimeMessage, name: str) -> str:
    """The header's text, or "" when it is absent or unreadable."""
    try:
        return str(msg.get(name) or "")
    except Exception:  # noqa: BLE001 - an unreadable optional header counts as absent
        return ""


def sender_of(msg: MimeMessage) -> tuple[str, str]:
    """(display name, lowered address) of the From header; raises Quarantine when it names no address."""
    try:
        from_header = msg.get("From")
        addresses = from_header.addresses if from_header is not None else ()
    except Exception as exc:
        raise Quarantine(f"Malformed mail: its From header cannot be read ({exc}).") from exc
    for address in addresses:
        addr = (address.addr_spec or "").strip()
        local, _, domain = addr.rpartition("@")
        if local and "." in domain and " " not in addr and addr == clean_line(addr):
            return clean_line(address.display_name or ""), addr.lower()
    raise Quarantine("Malformed mail: no sender address in its From header.")


def _thread_ids(msg: MimeMessage) -> list[str]:
    """Message-IDs the mail answers, the most direct first: In-Reply-To, then References newest first."""
    ids = _MSGID_RE.findall(header(msg, "In-Reply-To"))
    ids += reversed(_MSGID_RE.findall(header(msg, "References")))
    return list(dict.fromkeys(ids))


def _automatic(msg: MimeMessage, sender: str) -> str:
    """Why the mail is machine-made (never to be answered), or "" for a person's mail."""
    auto_submitted = header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        # The value goes into the recorded reason: an encoded-word may have decoded to a NUL.
        return f"Auto-Submitted: {clean_line(auto_submitted)}"
    # Not "list": mailing lists and Google Groups (a common way to run support@) set it on people's mail.
    precedence = header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(name) is not None and header(msg, name).strip().lower() not in ("no", "false"):
            return name
    if msg.get_content_type() == "multipart/report":
        return "a delivery report"
    if header(msg, "Return-Path").strip() == "<>":
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


def storable(value: str) -> str:
    """Text the database accepts: PostgreSQL refuses NUL characters, and undecodable header bytes come
    out of the parser as lone surrogates, which no database encoding takes."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def clean_line(value: str) -> str:
    """`value` storable, on one line with single spaces."""
    return " ".join(storable(value).split())


def _clean_text(text: str) -> str:
    # Mail line ends vary.
    text = storable(text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


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
