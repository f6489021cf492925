"""The API's JSON parser: DRF's, with limits on what a body may make the server do.

- **Size**: a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` (Django's limit on what it holds in memory, 2.5 MB by
  default) answers 413 naming the limit (`tickets.api.errors` answers the same when Django refuses first).
- **Depth**: arrays and objects nested deeper than `API_JSON_MAX_DEPTH` answer 400. The depth is counted
  on the text before decoding: the C decoder recurses once per level, and `[` × 100,000 ran it out of
  Python's recursion limit (a RecursionError, answered 500), after costing that much stack.
- **Numbers**: a number a float cannot hold (`1e400` decodes to infinity) answers 400, as `NaN` and
  `Infinity` do: they reached integer fields as infinity and failed there (OverflowError, a 500).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from itertools import accumulate

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from helpdesk.limits import memory_limit_detail

#: A JSON string, escapes and all (so that brackets inside strings are not counted).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
#: Everything that is neither an opening nor a closing bracket, once strings are gone.
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class BodyTooLarge(APIException):
    """413 for a body over the size the API reads; the body names the limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"

    def __init__(self):
        super().__init__(memory_limit_detail())


def nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar). Linear in the text's
    length, with no recursion; brackets inside strings do not count."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"The number {text[:40]} is out of range (it must fit a 64-bit float)")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number; send a finite number or null")


class LimitedJSONParser(JSONParser):
    """DRF's JSONParser with a size limit, a nesting limit and finite numbers only (see the module)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise BodyTooLarge
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = codecs.decode(raw, encoding)
        except (LookupError, ValueError) as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from exc
        depth, max_depth = nesting_depth(text), settings.API_JSON_MAX_DEPTH
        if depth > max_depth:
            raise ParseError(
                f"JSON parse error - arrays and objects nest {depth} levels deep; at most {max_depth} "
                f"are accepted"
            )
        try:
            return json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
