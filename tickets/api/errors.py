"""Errors as JSON: Django's ValidationError from the services becomes a 400 naming each field; a body
Django refuses to read (too large, too many fields) a 413 or 400 `{"detail"}`; a database that cannot be
used answers 503 `{"detail", "code": "database_unavailable"}` with Retry-After."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from helpdesk.errors import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_SECONDS,
    database_unavailable,
    unavailable_response,
)
from helpdesk.limits import body_refused

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if database_unavailable(exc):
        # Always JSON: the browsable API's page would ask the database for the user again.
        logger.warning("Database unavailable; %s answered 503: %s", context["request"].path, _first_line(exc))
        return unavailable_response(context["request"])
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Django refused to read the body (DRF reads a JSON body before its parser sees it): JSON naming
        # the limit, not Django's HTML 400.
        return body_refused(exc)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = ValidationError(detail)
    return drf_exception_handler(exc, context)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


_Detail = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
_Unavailable = inline_serializer(
    "ServiceUnavailable",
    fields={
        "detail": serializers.CharField(),
        "code": serializers.ChoiceField(choices=[DATABASE_UNAVAILABLE]),
    },
)
#: A 400 names each bad field (its key is the field's name, `non_field_errors`, or the header such as
#: `Idempotency-Key`) with a list of messages; a nested object or list carries its parts' errors the same way.
#: A body that cannot be parsed at all answers `{"detail": "..."}`.
_FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {}},
            {"type": "object", "additionalProperties": {}},
            {"type": "string"},
        ]
    },
    "example": {
        "severity": ["“S9” is not a valid choice."],
        "interview": {"ends_at": ["The end of the interview range is before its start."]},
    },
}


class FieldErrors(serializers.Serializer):
    """The body of a 400, for the schema only (see `FieldErrorsScheme`)."""


class FieldErrorsScheme(OpenApiSerializerExtension):
    target_class = "tickets.api.errors.FieldErrors"

    def map_serializer(self, auto_schema, direction):
        return _FIELD_ERRORS


BAD_REQUEST = OpenApiResponse(
    FieldErrors, description="Invalid input: each bad field or parameter with its messages."
)
UNAUTHORIZED = OpenApiResponse(_Detail, description="No or invalid credentials.")
FORBIDDEN = OpenApiResponse(_Detail, description="Not allowed for this user or token.")
NOT_FOUND = OpenApiResponse(_Detail, description="No such object or page, or not visible to you.")
CONFLICT = OpenApiResponse(_Detail, description="A request with this Idempotency-Key is still in progress.")
UNPROCESSABLE = OpenApiResponse(_Detail, description="The Idempotency-Key was used with a different request.")
THROTTLED = OpenApiResponse(_Detail, description="Too many requests; retry after the Retry-After header.")
UNAVAILABLE = OpenApiResponse(
    _Unavailable,
    description=(
        "The database cannot be reached, so the request was not completed. Retry after the Retry-After "
        f"header ({RETRY_AFTER_SECONDS} s)."
    ),
)

COMMON = {
    # Any request may carry a parameter the API refuses before any view sees it (a NUL, see
    # helpdesk/parameters.py): every operation can answer 400.
    status.HTTP_400_BAD_REQUEST: BAD_REQUEST,
    status.HTTP_401_UNAUTHORIZED: UNAUTHORIZED,
    status.HTTP_403_FORBIDDEN: FORBIDDEN,
    status.HTTP_429_TOO_MANY_REQUESTS: THROTTLED,
    status.HTTP_503_SERVICE_UNAVAILABLE: UNAVAILABLE,
}


def responses(
    ok: dict, *, bad_request: bool = False, not_found: bool = False, idempotent: bool = False
) -> dict:
    """The documented responses of an operation: its success bodies plus the errors it can answer.

    `bad_request` says that the operation's own input is validated; the 400 is documented either way (see
    COMMON)."""
    result = {**ok, **COMMON}
    if not_found:
        result[status.HTTP_404_NOT_FOUND] = NOT_FOUND
    if idempotent:
        result[status.HTTP_409_CONFLICT] = CONFLICT
        result[status.HTTP_422_UNPROCESSABLE_ENTITY] = UNPROCESSABLE
    return result
