"""An email backend that several processes can share, for fault tests and benchmarks: every message is a
file of its own (`<uuid>.eml`, written whole then renamed into place) in the folder named by the
environment variable MAILBOX_DIR. `read(folder)` returns what was sent, in no particular order.

    EMAIL_BACKEND=tests.reliability.mailbox.FolderBackend MAILBOX_DIR=/tmp/mail python manage.py outbox
"""

from __future__ import annotations

import email
import email.policy
import os
import uuid
from email.message import EmailMessage
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class FolderBackend(BaseEmailBackend):
    def send_messages(self, messages) -> int:
        folder = Path(os.environ["MAILBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            name = uuid.uuid4().hex
            partial = folder / f".{name}.part"
            partial.write_bytes(message.message().as_bytes())
            partial.rename(folder / f"{name}.eml")
        return len(messages)


def read(folder: Path) -> list[EmailMessage]:
    """The messages in `folder` (none if it does not exist yet)."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]
