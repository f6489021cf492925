"""Daily housekeeping: forget expired Idempotency-Keys, and delete attachment files that no attachment
row refers to (a file is written while its upload's transaction runs; when that transaction rolls back,
the file stays behind). Run by beat ("Housekeeping") and by `manage.py housekeeping`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tickets.models import Attachment, IdempotencyRecord

logger = logging.getLogger(__name__)

#: An unreferenced file younger than this may belong to an upload whose transaction is still running.
ORPHAN_MIN_AGE = timedelta(hours=1)
_BATCH = 1000


@dataclass(frozen=True)
class Result:
    idempotency_keys: int
    orphan_files: int
    orphan_bytes: int


def run(now: datetime | None = None) -> Result:
    now = now or timezone.now()
    keys = expire_idempotency_keys(now)
    files, size = prune_orphan_files(now)
    if keys or files:
        logger.info("Housekeeping: %d idempotency key(s) expired, %d orphan file(s) deleted", keys, files)
    return Result(idempotency_keys=keys, orphan_files=files, orphan_bytes=size)


def expire_idempotency_keys(now: datetime) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL_HOURS: a retry after that runs afresh."""
    cutoff = now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def prune_orphan_files(now: datetime) -> tuple[int, int]:
    """Delete files under ATTACHMENTS_ROOT older than ORPHAN_MIN_AGE that no attachment refers to.
    Returns (files, bytes) deleted."""
    root = Path(settings.ATTACHMENTS_ROOT)
    if not root.is_dir():
        return 0, 0
    cutoff = (now - ORPHAN_MIN_AGE).timestamp()
    candidates: dict[str, Path] = {}
    deleted = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.stat().st_mtime < cutoff:
                candidates[path.relative_to(root).as_posix()] = path
            if len(candidates) >= _BATCH:
                deleted, size = _delete_unreferenced(candidates, deleted, size)
    return _delete_unreferenced(candidates, deleted, size)


def _delete_unreferenced(candidates: dict[str, Path], deleted: int, size: int) -> tuple[int, int]:
    referenced = set(Attachment.objects.filter(file__in=list(candidates)).values_list("file", flat=True))
    for name, path in candidates.items():
        if name not in referenced:
            size += path.stat().st_size
            path.unlink(missing_ok=True)
            deleted += 1
    candidates.clear()
    return deleted, size
