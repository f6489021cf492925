"""`Idempotency-Key` on POST creates: a retry with the same key gets the first response and creates
nothing; the same key with a different request is refused with 422."""

from __future__ import annotations

import hashlib
import json

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.response import Response

from tickets.models.integrations import IdempotencyRecord

HEADER = "Idempotency-Key"


def idempotent(request, handler) -> Response:
    """Run `handler()` once per (user, Idempotency-Key); replay its response for retries."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        return Response({HEADER: ["At most 255 characters."]}, status=status.HTTP_400_BAD_REQUEST)
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=request.user, key=key, path=request.path[:255], request_hash=fingerprint
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.get(user=request.user, key=key)
        if record.request_hash != fingerprint or record.path != request.path[:255]:
            return Response(
                {"detail": "This Idempotency-Key was already used with a different request."},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if record.status_code is None:
            return Response(
                {"detail": "A request with this Idempotency-Key is still in progress; retry shortly."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(
            record.response_body, status=record.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        response = handler()
    except BaseException:
        record.delete()  # nothing was created: the client may retry with the same key
        raise
    if response.status_code >= 500:
        record.delete()
    else:
        record.status_code = response.status_code
        record.response_body = json.loads(json.dumps(response.data, default=str))
        record.save(update_fields=["status_code", "response_body"])
    return response


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
    body = json.dumps(
        {"method": request.method, "path": request.path, "data": plain(data)}, sort_keys=True, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()
