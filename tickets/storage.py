"""Where attachments live: a private folder (ATTACHMENTS_ROOT), never under a static or media URL."""

import os
import re
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils import timezone


class AttachmentStorage(FileSystemStorage):
    """File storage rooted at ATTACHMENTS_ROOT (read at use, so tests can point it elsewhere); no URLs."""

    @property
    def base_location(self):
        return str(settings.ATTACHMENTS_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("Attachments have no public URL; use the download view.")


_storage = AttachmentStorage()


def attachment_storage() -> AttachmentStorage:
    return _storage


def attachment_upload_to(instance, filename: str) -> str:
    """A random name: the customer's file name is kept in the database only, never used as a path."""
    suffix = PurePosixPath(filename).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = ""
    return f"{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"
