"""Query strings and form fields carry text only: a NUL or a lone surrogate in any of them answers 400.

Neither is ever text a person typed. PostgreSQL refuses a NUL in any string it is sent ("text fields
cannot contain NUL"), and a lone surrogate cannot be encoded to send at all: wherever a parameter reached
a query unchecked (the portal's search, the console's list filters), the request failed with a 500. Django's
forms and DRF's fields refuse NUL one field at a time; this middleware refuses both for every parameter,
names and values, before any view runs. Under `/api/` the answer is the API's 400 (`{"<name>": [...]}`),
elsewhere a short page naming the parameter.

Form fields are those Django parses (`request.POST`: url-encoded and multipart bodies of a POST); JSON
bodies are the API parser's (`tickets.api.parsers`), whose strings DRF's fields check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.html import escape

from helpdesk.limits import body_refused

#: NUL, and the UTF-16 surrogate code points, which only come in pairs and never alone in valid text.
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: The page's own policy: it loads nothing and runs nothing.
_PAGE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def forbidden_character(text: str) -> str | None:
    """A description of the first character `text` may not carry, or None if it has none."""
    match = _FORBIDDEN.search(text)
    if match is None:
        return None
    return "a NUL character" if match.group() == "\x00" else "a lone surrogate (not a character)"


def bad_parameter(parameters: Iterable[QueryDict]) -> tuple[str, str] | None:
    """The first (name, problem) among these parameters' names and values, or None when all are text."""
    for params in parameters:
        for name, values in params.lists():
            for text in (name, *values):
                if not isinstance(text, str):
                    continue  # an uploaded file: its bytes are the attachment checks' concern
                problem = forbidden_character(text)
                if problem is not None:
                    return name, problem
    return None


class ParameterTextMiddleware:
    """400 for a query string or form field carrying a NUL or a lone surrogate (see the module).

    Comes right after the request-size limit, so an oversized body is refused before this reads one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path.startswith("/api/")
        parameters = [request.GET]
        if request.method == "POST" and request.content_type in _FORM_TYPES:
            try:
                parameters.append(request.POST)
            except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as exc:
                if not api:
                    raise  # Django's 400 page, as before
                return body_refused(exc)
        found = bad_parameter(parameters)
        if found is None:
            return self.get_response(request)
        name, problem = found
        if api:
            return JsonResponse({name: [f"Contains {problem}, which is not allowed."]}, status=400)
        shown = escape(_visible(name))
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad request</title></head>'
            f"<body><h1>Bad request</h1><p>The parameter “{shown}” contains {problem}, which is not "
            "allowed. Go back and correct it.</p></body></html>"
        )
        response = HttpResponse(page, status=400)
        response["Content-Security-Policy"] = _PAGE_POLICY
        return response


def _visible(name: str) -> str:
    """The name with its forbidden characters written as escapes, so that the page shows them."""
    return _FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", name)
