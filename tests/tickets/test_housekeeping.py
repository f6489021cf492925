"""Daily housekeeping: expired Idempotency-Keys are forgotten; attachment files left behind by a rolled
back upload are deleted, and nothing a ticket refers to (or an upload in flight) is touched."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from tests.factories import TicketFactory
from tests.tickets.test_attachments import PNG
from tickets import housekeeping
from tickets.models import Attachment, IdempotencyRecord
from tickets.services import attachment_add

pytestmark = pytest.mark.django_db


def age(path: Path, by: timedelta) -> None:
    then = (timezone.now() - by).timestamp()
    os.utime(path, (then, then))


def upload(ticket, name: str = "screenshot.png") -> Attachment:
    return attachment_add(
        ticket=ticket,
        uploaded_by=ticket.requester,
        upload=SimpleUploadedFile(name, PNG, content_type="image/png"),
    )


def test_idempotency_keys_are_forgotten_after_their_time_to_live(settings, requester):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    now = timezone.now()
    old, fresh = (
        IdempotencyRecord.objects.create(user=requester, key=key, path="/api/v1/tickets/", request_hash="h")
        for key in ("old", "fresh")
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=25))

    assert housekeeping.expire_idempotency_keys(now) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == [fresh.key]


def test_files_of_rolled_back_uploads_are_deleted_and_attached_ones_kept(settings, requester):
    ticket = TicketFactory(requester=requester)
    kept = upload(ticket)
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = upload(ticket, "rolled-back.png")
        raise RuntimeError("the request failed after the file was written")
    lost_path, kept_path = Path(lost.file.path), Path(kept.file.path)
    assert lost_path.exists() and not Attachment.objects.filter(pk=lost.pk).exists()
    in_flight = lost_path.with_name("upload-still-in-its-transaction.png")
    in_flight.write_bytes(PNG)
    for path in (lost_path, kept_path):
        age(path, timedelta(hours=2))

    files, size = housekeeping.prune_orphan_files(timezone.now())

    assert (files, size) == (1, len(PNG))
    assert not lost_path.exists()
    assert kept_path.exists() and kept_path.read_bytes() == PNG
    assert in_flight.exists()  # too young to judge: its transaction may still commit


def test_the_command_reports_what_it_did(settings, requester, capsys):
    settings.ATTACHMENTS_ROOT.mkdir(parents=True)
    orphan = settings.ATTACHMENTS_ROOT / "orphan.png"
    orphan.write_bytes(PNG)
    age(orphan, timedelta(days=1))
    call_command("housekeeping")
    assert "1 orphan file(s) deleted" in capsys.readouterr().out
    assert not orphan.exists()


def test_beat_runs_housekeeping_daily():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Housekeeping")
    assert task.task == "tickets.tasks.housekeeping" and task.enabled
    assert (task.interval.every, task.interval.period) == (1, "days")
