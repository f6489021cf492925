"""Checking an uploaded file before it is kept: size (counted while reading), type sniffed from the bytes.

The allow-list is deliberately short: screenshots (PNG, JPEG, GIF, WebP), PDF, plain text / CSV / logs and
saved emails (EML). The declared name never decides the type; a name that claims another type than the
content (an HTML page renamed ``.png``) is refused with a message saying so.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

CHUNK_SIZE = 64 * 1024
SNIFF_BYTES = 2048

#: Accepted content types and the file name extensions that may carry them ("" = no extension).
ALLOWED_TYPES: dict[str, set[str]] = {
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "application/pdf": {".pdf"},
    "text/plain": {".txt", ".text", ".log", ""},
    "text/csv": {".csv"},
    "message/rfc822": {".eml"},
}
_TEXT_TYPES = {"text/plain", "text/csv", "message/rfc822"}
_DESCRIPTIONS = {
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
    "application/pdf": "a PDF document",
    "text/plain": "plain text",
    "text/csv": "a CSV file",
    "message/rfc822": "an email message",
    "text/html": "HTML",
    "image/svg+xml": "an SVG image",
    "text/x-script": "a script",
}
ACCEPTED_SUMMARY = (
    "We accept screenshots (PNG, JPEG, GIF, WebP), PDF, text, CSV and log files, and saved emails (.eml)."
)
_EXTENSION_TYPES = {ext: ctype for ctype, exts in ALLOWED_TYPES.items() for ext in exts if ext}

_MARKUP_RE = re.compile(
    rb"^\s*(<\?xml|<!doctype|<html|<head|<body|<script|<svg|<iframe|<object|<embed|<meta|<link|<style|<a\s|<img|<div|<form|<!--)",
    re.IGNORECASE,
)
_MAIL_HEADER_RE = re.compile(
    rb"^(from|to|subject|date|message-id|received|return-path|mime-version|delivered-to):",
    re.IGNORECASE | re.MULTILINE,
)


def sniff_content_type(head: bytes) -> str | None:
    """The content type the first bytes show, or None if they match nothing we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if not _looks_like_text(head):
        return None
    text = head.lstrip(b"\xef\xbb\xbf")
    if text.lstrip().startswith(b"#!"):
        return "text/x-script"
    if _MARKUP_RE.match(text):
        return "image/svg+xml" if b"<svg" in text.lower() else "text/html"
    if len(_MAIL_HEADER_RE.findall(text[:SNIFF_BYTES])) >= 2:
        return "message/rfc822"
    return "text/plain"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text; anything else is not UTF-8.
        if exc.start < len(head) - 3:
            return False
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\f\x1b")
    return controls <= len(head) // 100


@dataclass
class CheckedFile:
    """An upload that passed the checks, spooled to a temporary file ready to be stored."""

    name: str
    content_type: str
    size: int
    sha256: str
    content: IO[bytes]


def check_upload(upload, *, max_bytes: int | None = None) -> CheckedFile:
    """Read `upload` (a Django File) once, counting bytes as they come, and decide whether we keep it.

    Raises ValidationError with a message for the customer when the file is empty, too large, of a type
    we do not accept, or named as another type than its content.
    """
    limit = settings.ATTACHMENT_MAX_BYTES if max_bytes is None else max_bytes
    name = clean_file_name(getattr(upload, "name", "") or "attachment")
    declared_size = getattr(upload, "size", None)
    if declared_size is not None and declared_size > limit:
        raise _too_large(name, limit)

    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - handed to the caller
    try:
        size, head, digest = _spool(upload, spool, name=name, limit=limit)
        if size == 0:
            raise ValidationError(f"“{name}” is empty.", code="empty")
        content_type = _decide_type(name, head)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return CheckedFile(name=name, content_type=content_type, size=size, sha256=digest, content=spool)


def _spool(upload, spool, *, name: str, limit: int) -> tuple[int, bytes, str]:
    """Copy the upload into `spool`, stopping as soon as it passes `limit`; (size, first bytes, sha256)."""
    digest = hashlib.sha256()
    head = b""
    size = 0
    if hasattr(upload, "seek"):
        upload.seek(0)
    chunks = (
        upload.chunks(CHUNK_SIZE) if hasattr(upload, "chunks") else iter(lambda: upload.read(CHUNK_SIZE), b"")
    )
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(name, limit)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
        spool.write(chunk)
    return size, head, digest.hexdigest()


def _decide_type(name: str, head: bytes) -> str:
    sniffed = sniff_content_type(head)
    extension = PurePath(name).suffix.lower()
    claimed = _EXTENSION_TYPES.get(extension)
    if sniffed is None or sniffed not in ALLOWED_TYPES:
        what = _DESCRIPTIONS.get(sniffed, "a type we do not accept")
        if claimed:
            raise ValidationError(
                f"“{name}” is named like {_DESCRIPTIONS[claimed]} but its content is {what}.",
                code="disguised",
            )
        raise ValidationError(f"“{name}” is {what}. {ACCEPTED_SUMMARY}", code="type_not_allowed")
    if sniffed in _TEXT_TYPES and (claimed in _TEXT_TYPES or extension == ""):
        # Among text files the name decides between plain text, CSV and a saved email.
        if claimed == "message/rfc822" and sniffed != "message/rfc822":
            raise ValidationError(
                f"“{name}” is named like an email message but has no mail headers.",
                code="disguised",
            )
        return claimed or "text/plain"
    if extension not in ALLOWED_TYPES[sniffed]:
        if claimed is None:
            raise ValidationError(
                f"“{name}”: files ending in “{extension}” are not accepted. {ACCEPTED_SUMMARY}",
                code="type_not_allowed",
            )
        raise ValidationError(
            f"“{name}” is named like {_DESCRIPTIONS[claimed]} but its content is {_DESCRIPTIONS[sniffed]}.",
            code="disguised",
        )
    return sniffed


def _too_large(name: str, limit: int) -> ValidationError:
    return ValidationError(
        f"“{name}” is larger than the {filesizeformat(limit)} limit for attachments.",
        code="too_large",
    )


def clean_file_name(name: str) -> str:
    """The base name only, without path parts or control characters, at most 200 characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()[-200:]
    # "." and ".." (what "../" or ". " leave) name directories, not files.
    return base if base.strip(".") else "attachment"


def check_uploads(uploads) -> list[CheckedFile]:
    """Check several uploads; all of their problems are reported together, on `attachments`."""
    checked, problems = [], []
    for upload in uploads:
        if isinstance(upload, CheckedFile):
            checked.append(upload)
            continue
        try:
            checked.append(check_upload(upload))
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        for item in checked:
            item.content.close()
        raise ValidationError({"attachments": problems})
    return checked
