"""The largest request body the helpdesk reads at all, refused from the request's headers alone.

A request whose Content-Length is over REQUEST_MAX_BYTES (by default every attachment a form may carry at
the per-file limit, plus the form's text) is answered 413 at once: nothing reads its body, so the server
neither receives nor spools it. The API answers JSON naming the limit; pages answer a short page.

Below that limit each file is still counted while it is read and refused past ATTACHMENT_MAX_BYTES
(`tickets.attachments`). The fields beside the files, and a JSON body, are held in memory: past
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) the API answers 413 naming that limit (`body_refused`, and the API's
JSON parser). A body sent without a Content-Length (chunked) declares no size; Django reads
no body it was not told the length of, so such a request carries no files at all.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string


def declared_length(request: HttpRequest) -> int | None:
    """The body's size as its Content-Length header declares it; None when absent or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class RequestSizeLimitMiddleware:
    """413 for a request that declares a body larger than REQUEST_MAX_BYTES, before anything reads it.

    Comes right after SecurityMiddleware (so the answer still carries the security headers) and before
    everything that may read the body: the CSRF check, the sessions' and the API's parsers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = declared_length(request)
        if length is not None and length > settings.REQUEST_MAX_BYTES:
            return too_large(request, length)
        return self.get_response(request)


def too_large(request: HttpRequest, length: int) -> HttpResponse:
    """The 413, with its own Content-Length: the middleware that would add one never sees it, and the
    client must be able to read the whole answer while the connection stays open."""
    response = _too_large(request, length)
    response["Content-Length"] = str(len(response.content))
    return response


def _too_large(request: HttpRequest, length: int) -> HttpResponse:
    limit = settings.REQUEST_MAX_BYTES
    detail = (
        f"The request ({filesizeformat(length)}) is larger than the {filesizeformat(limit)} we accept "
        f"at once; each attachment may be up to {filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."
    )
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": detail,
                "max_request_bytes": limit,
                "max_attachment_bytes": settings.ATTACHMENT_MAX_BYTES,
            },
            status=413,
        )
    page = render_to_string(
        "helpdesk/request_too_large.html",
        {
            "limit": limit,
            "attachment_limit": settings.ATTACHMENT_MAX_BYTES,
            "files": settings.ATTACHMENTS_PER_REQUEST,
        },
    )
    return HttpResponse(page, status=413)


def memory_limit_detail() -> dict:
    """The API's 413 body for a JSON body or form fields over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return {
        "detail": f"The request body is larger than the {limit:,} bytes the API reads as JSON or form "
        f"fields; send files as multipart uploads.",
        "max_body_bytes": limit,
    }


def body_refused(exc: Exception) -> JsonResponse:
    """The API's answer when Django refuses to read a body (RequestDataTooBig and the field- and
    file-count limits, SuspiciousOperation subclasses that Django would answer with its HTML 400)."""
    if isinstance(exc, RequestDataTooBig):
        return JsonResponse(memory_limit_detail(), status=413)
    return JsonResponse({"detail": str(exc)}, status=400)
