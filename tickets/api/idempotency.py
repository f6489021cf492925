"""`Idempotency-Key` on POST creates (docs/api.md, Idempotency): a retry with the same key and the same
request gets the first response and creates nothing; the same key with a different request is refused
with 422; a retry while the first request is still running answers 409.

The handler runs in one transaction with the record of its response, so a create and its record commit
together or not at all: a request cut off half-way (the database lost, the worker killed) leaves nothing
behind and its retry runs afresh. Only successes are kept: a refused request (4xx) or a failure may be
corrected and sent again with the same key. Concurrent requests with one key meet at a transaction-level
advisory lock on PostgreSQL, which the loser does not wait for (409 at once); the unique (user, key)
constraint has the last word on every database (on SQLite writers queue instead, and a retry replays).
"""

from __future__ import annotations

import hashlib
import json

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from rest_framework import status
from rest_framework.response import Response

from tickets.api.authentication import token_organization_id
from tickets.models.integrations import IdempotencyRecord

HEADER = "Idempotency-Key"


def idempotent(request, handler) -> Response:
    """Run `handler()` once per (user, Idempotency-Key); replay its successful response for retries."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        return Response({HEADER: ["At most 255 characters."]}, status=status.HTTP_400_BAD_REQUEST)
    fingerprint, path = _fingerprint(request), request.path[:255]
    try:
        with transaction.atomic():
            if not _try_lock(request.user.pk, key):
                return _in_progress()
            record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if record is not None:
                return _replay(record, fingerprint, path)
            response = handler()
            if status.is_success(response.status_code):
                IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    path=path,
                    request_hash=fingerprint,
                    status_code=response.status_code,
                    response_body=json.loads(json.dumps(response.data, default=str)),
                )
            return response
    except IntegrityError:
        # Another request with this key committed first (where no lock kept it out): ours rolled back.
        record = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if record is None:
            raise  # the handler's own integrity error, nothing to do with the key
        return _replay(record, fingerprint, path)


def _try_lock(user_id: int, key: str) -> bool:
    """Take the key's lock until the end of the transaction, or False if another request holds it."""
    if connection.vendor != "postgresql":
        return True
    digest = hashlib.blake2b(f"idempotency-key\0{user_id}\0{key}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
        return cursor.fetchone()[0]


def _in_progress() -> Response:
    return Response(
        {"detail": "A request with this Idempotency-Key is still in progress; retry shortly."},
        status=status.HTTP_409_CONFLICT,
    )


def _replay(record: IdempotencyRecord, fingerprint: str, path: str) -> Response:
    if record.request_hash != fingerprint or record.path != path:
        return Response(
            {"detail": "This Idempotency-Key was already used with a different request."},
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if record.status_code is None:  # written by an earlier version, which committed the key first
        return _in_progress()
    return Response(record.response_body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def _fingerprint(request) -> str:
    def plain(value):
        if isinstance(value, UploadedFile):
            return {"file": value.name, "size": value.size}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    data = request.data
    if hasattr(data, "lists"):  # QueryDict (form or multipart): keep every value of every key
        data = dict(data.lists())
    # The scope of the credentials is part of the request: a key first used by an unlimited token is not
    # replayed to the same user's organization-limited token (the first response may show another
    # organization's ticket); it answers 422 as any other request reusing the key.
    scope = token_organization_id(request)
    body = json.dumps(
        {"method": request.method, "path": request.path, "data": plain(data), "scope": scope},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()
