"""Where inbound mail comes from: a `MailSource` hands out raw mails and is told what became of each.

Two sources: a local Maildir (what an MTA such as Postfix or a `fetchmail` delivers to; also what the tests
use) and an IMAP mailbox. `source_from_url` builds one from `EMAIL_IN_URL`:

- `maildir:///var/mail/support` — unread mails are those in `new/`; a processed one moves to `cur/` with
  the Seen flag; a quarantined one is copied, with an `X-Helpdesk-Quarantine-Reason` header on top, into
  the Maildir++ sub-folder `.quarantine/` and removed from the inbox.
- `imaps://user:password@imap.example.com[:993]/INBOX[?quarantine=Quarantine]` (or `imap://` without
  TLS, port 143) — unread mails are the UNSEEN ones; processed ones are flagged \\Seen; quarantined ones
  move to the quarantine folder if it exists, else are flagged \\Seen and \\Flagged for a human.

A source never decides anything about a mail's content: `tickets.channels.email_in` does.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, quote, unquote, urlsplit

logger = logging.getLogger(__name__)

QUARANTINE_HEADER = "X-Helpdesk-Quarantine-Reason"
QUARANTINE_FOLDER = "quarantine"
DEFAULT_IMAP_QUARANTINE = "Quarantine"


class MailSourceError(Exception):
    """The source is misconfigured (a bad URL, a missing mailbox) or refused us (IMAP login, select)."""


@dataclass(frozen=True)
class RawMail:
    """One mail as its source holds it: `key` identifies it to `done`/`quarantine`, `data` is RFC 5322."""

    key: str
    data: bytes


@runtime_checkable
class MailSource(Protocol):
    def fetch(self) -> Iterator[RawMail]:
        """The unread mails, oldest first (so a mail is handled before the replies to it)."""
        ...

    def done(self, key: str) -> None:
        """The mail was handled (a ticket, a reply, a duplicate, a rejection): do not hand it out again."""
        ...

    def quarantine(self, key: str, reason: str) -> None:
        """The mail could not be handled: set it aside, with `reason`, for a human."""
        ...

    def close(self) -> None:
        """Release connections; called once after a fetch, also when it failed."""
        ...


def annotate(data: bytes, reason: str) -> bytes:
    """`data` with a quarantine-reason header on top (kept byte for byte below it)."""
    one_line = " ".join(reason.split())[:900] or "unknown"
    linesep = "\r\n" if b"\r\n" in data[:4096] else "\n"
    # Plain ASCII stays readable for the human who opens the file; anything else becomes encoded-words.
    charset = "us-ascii" if one_line.isascii() else "utf-8"
    value = Header(one_line, charset, header_name=QUARANTINE_HEADER).encode(linesep=linesep)
    return f"{QUARANTINE_HEADER}: {value}{linesep}".encode("ascii") + data


class MaildirSource:
    """A local Maildir, read with the stdlib `mailbox.Maildir`."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            # No create=True: a typo in the path must be an error, not a new, forever-empty mailbox.
            self._box = mailbox.Maildir(self.path, factory=None, create=False)
        except mailbox.NoSuchMailboxError as exc:
            raise MailSourceError(f"No Maildir at {self.path} (it needs cur/, new/ and tmp/).") from exc
        self._names: dict[str, str] = {}

    def __str__(self) -> str:
        return f"maildir://{self.path}"

    def fetch(self) -> Iterator[RawMail]:
        new = self.path / "new"
        # Arrival order (a mail before the replies to it): delivery time, then the name, whose microseconds
        # are not zero-padded and so do not sort by themselves.
        entries = [entry for entry in os.scandir(new) if entry.is_file() and not entry.name.startswith(".")]
        names = [
            entry.name for entry in sorted(entries, key=lambda entry: (entry.stat().st_mtime_ns, entry.name))
        ]
        for name in names:
            key = name.split(self._box.colon)[0]
            try:
                data = (new / name).read_bytes()
            except FileNotFoundError:
                continue  # a concurrent fetch took it
            self._names[key] = name
            yield RawMail(key=key, data=data)

    def done(self, key: str) -> None:
        # A rename rather than `box[key] = MaildirMessage(...)`: that would re-serialize the mail, this
        # keeps its bytes and is atomic.
        name = self._names.pop(key)
        info = f"{self._box.colon}2,S"
        os.rename(self.path / "new" / name, self.path / "cur" / f"{key}{info}")

    def quarantine(self, key: str, reason: str) -> None:
        name = self._names.pop(key)
        source = self.path / "new" / name
        folder = self._quarantine_box()
        # Copy first, remove second: a crash in between leaves a duplicate, never a lost mail.
        folder.add(annotate(source.read_bytes(), reason))
        source.unlink()

    def close(self) -> None:
        self._names.clear()

    def _quarantine_box(self) -> mailbox.Maildir:
        if QUARANTINE_FOLDER in self._box.list_folders():
            return self._box.get_folder(QUARANTINE_FOLDER)
        return self._box.add_folder(QUARANTINE_FOLDER)


class ImapSource:
    """An IMAP mailbox (imaplib). Mails are read with BODY.PEEK so they stay unseen until `done`."""

    def __init__(
        self,
        *,
        host: str,
        port: int | None = None,
        username: str,
        password: str,
        folder: str = "INBOX",
        ssl: bool = True,
        quarantine_folder: str = DEFAULT_IMAP_QUARANTINE,
        timeout: float = 30,
    ) -> None:
        self.host = host
        self.ssl = ssl
        self.port = port or (imaplib.IMAP4_SSL_PORT if ssl else imaplib.IMAP4_PORT)
        self.username = username
        self.password = password
        self.folder = folder
        self.quarantine_folder = quarantine_folder
        self.timeout = timeout
        self._conn: imaplib.IMAP4 | None = None

    def __str__(self) -> str:
        # Never the password: this ends up in logs and command output.
        scheme = "imaps" if self.ssl else "imap"
        return f"{scheme}://{quote(self.username)}@{self.host}:{self.port}/{quote(self.folder)}"

    def fetch(self) -> Iterator[RawMail]:
        conn = self._connection()
        data = _ok(conn.uid("SEARCH", None, "UNSEEN"), "search for unseen mail")
        for uid in (data[0] or b"").split():
            # BODY.PEEK[] rather than RFC822: RFC822 marks the mail \Seen at once, and a crash before it is
            # handled would then lose it.
            parts = _ok(conn.uid("FETCH", uid, "(BODY.PEEK[])"), f"fetch mail {uid.decode()}")
            raw = next((part[1] for part in parts if isinstance(part, tuple) and len(part) > 1), None)
            if raw is None:
                continue  # expunged since the search
            yield RawMail(key=uid.decode(), data=raw)

    def done(self, key: str) -> None:
        _ok(self._connection().uid("STORE", key, "+FLAGS", r"(\Seen)"), f"mark mail {key} seen")

    def quarantine(self, key: str, reason: str) -> None:
        conn = self._connection()
        logger.warning("Quarantining IMAP mail %s in %s: %s", key, self, reason)
        if not self._has_folder(conn, self.quarantine_folder):
            _ok(conn.uid("STORE", key, "+FLAGS", r"(\Seen \Flagged)"), f"flag mail {key}")
            return
        target = _quote_mailbox(self.quarantine_folder)
        if "MOVE" in getattr(conn, "capabilities", ()):
            _ok(conn.uid("MOVE", key, target), f"move mail {key} to quarantine")
        else:
            _ok(conn.uid("COPY", key, target), f"copy mail {key} to quarantine")
            # \Seen keeps it out of the next UNSEEN search; \Deleted lets the owner's expunge remove it
            # (we do not expunge: that would also remove mails others marked deleted).
            _ok(conn.uid("STORE", key, "+FLAGS", r"(\Seen \Deleted)"), f"flag mail {key} deleted")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            logger.info("IMAP logout from %s failed; the server will drop the connection", self)

    def _connection(self) -> imaplib.IMAP4:
        if self._conn is not None:
            return self._conn
        factory = imaplib.IMAP4_SSL if self.ssl else imaplib.IMAP4
        try:
            conn = factory(self.host, self.port, timeout=self.timeout)
            conn.login(self.username, self.password)
            _ok(conn.select(_quote_mailbox(self.folder)), f"open folder {self.folder}")
        except imaplib.IMAP4.error as exc:
            raise MailSourceError(f"{self}: {exc}") from exc
        self._conn = conn
        return conn

    @staticmethod
    def _has_folder(conn: imaplib.IMAP4, name: str) -> bool:
        typ, data = conn.list('""', _quote_mailbox(name))
        return typ == "OK" and any(item for item in data if item)


def _ok(response: tuple[str, list], action: str) -> list:
    typ, data = response
    if typ != "OK":
        raise MailSourceError(f"IMAP could not {action}: {typ} {data!r}")
    return data


def _quote_mailbox(name: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as given)."""
    if re.fullmatch(r"[A-Za-z0-9._/-]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_from_url(url: str) -> MailSource:
    """A source for `maildir:///abs/path`, `imaps://user:pass@host[:port]/FOLDER` or `imap://...`."""
    parts = urlsplit((url or "").strip())
    scheme = parts.scheme.lower()
    if scheme == "maildir":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise MailSourceError("A Maildir URL names an absolute path: maildir:///var/mail/support")
        return MaildirSource(path)
    if scheme in ("imap", "imaps"):
        try:
            port = parts.port
        except ValueError as exc:
            raise MailSourceError(f"The IMAP URL has an invalid port: {exc}") from exc
        if not parts.hostname or not parts.username:
            raise MailSourceError("An IMAP URL names a user and a host: imaps://user:password@host/INBOX")
        query = parse_qs(parts.query)
        return ImapSource(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            ssl=scheme == "imaps",
            quarantine_folder=query.get("quarantine", [DEFAULT_IMAP_QUARANTINE])[0],
        )
    raise MailSourceError(
        f"Unsupported mail source {scheme + ':' if scheme else '(no scheme)'}; "
        "use maildir:///path, imaps://user:password@host/INBOX or imap://..."
    )
