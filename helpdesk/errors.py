"""Failures that are not the client's: when the database cannot be used (unreachable, a connection cut
mid-request, too many connections, a deadlock), every page answers 503 with Retry-After instead of a 500
and a traceback: a JSON error under `/api/`, a small standalone page elsewhere.

Django turns any exception a view or middleware raises into the `handler500` response (helpdesk/urls.py
points it at `server_error`); the API's exception handler (tickets/api/errors.py) gives the same answer,
so it holds in DEBUG mode too. Nothing here touches the database, the session or the user: they are
what is failing. Django drops a broken connection at the end of the request and opens a new one on the
next, so the site recovers by itself when the database is back.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import sys
from email.utils import parseaddr

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

#: Django wraps the driver's errors in its own; a driver error that escaped unwrapped counts too.
DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
#: Seconds a client is asked to wait before retrying.
RETRY_AFTER_SECONDS = 30
#: The `code` of the API's 503 body.
DATABASE_UNAVAILABLE = "database_unavailable"
API_DETAIL = (
    "The helpdesk cannot reach its database right now, so the request was not completed. Retry after "
    "the Retry-After header; a create retried with its Idempotency-Key never opens a second ticket."
)
API_SERVER_ERROR = "The helpdesk failed to complete the request; the error is logged for its operators."
TEMPLATE = "helpdesk/503.html"


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or while handling, says the database cannot be
    used right now (Django's and the driver's OperationalError and InterfaceError): a transient failure
    a client should retry, not a bug."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return False


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request the database failed: JSON for the API, the standalone page otherwise."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": API_DETAIL, "code": DATABASE_UNAVAILABLE}, status=503)
    else:
        page, policy = _page()
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
        # The portal's policy (set only where none is) forbids inline styles; this page allows its own.
        response["Content-Security-Policy"] = policy
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@functools.cache
def _page() -> tuple[str, str]:
    """The page, rendered once without a request (no context processor reaches the user or session),
    and a content security policy that allows exactly its inline styles."""
    page = render_to_string(TEMPLATE, {"support_email": parseaddr(settings.SUPPORT_EMAIL)[1]})
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
        for style in re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    )
    policy = f"default-src 'none'; style-src {hashes}; base-uri 'none'; form-action 'none'; "
    policy += "frame-ancestors 'none'"
    return page, policy


def server_error(request: HttpRequest, template_name: str = defaults.ERROR_500_TEMPLATE_NAME) -> HttpResponse:
    """`handler500`: a 503 when the database failed the request; otherwise a 500, in the API's JSON error
    shape under `/api/` and Django's plain page elsewhere. Django has logged the exception by now."""
    exc = sys.exc_info()[1]
    if database_unavailable(exc):
        return unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": API_SERVER_ERROR, "code": "server_error"}, status=500)
    return defaults.server_error(request, template_name)
