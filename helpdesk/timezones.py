"""The time zones an organization or a business calendar may be in: IANA names from pytz's curated list
(`pytz.common_timezones`), used with zoneinfo.

The list is checked by a validator and offered as a drop-down computed when the form is built; it is
never a model field's `choices`, which migrations would freeze (and a pytz upgrade would then call for a
migration that changes nothing in the database).
"""

from __future__ import annotations

import functools

import pytz
from django.core.exceptions import ValidationError

DEFAULT_TIMEZONE = "America/Los_Angeles"


def timezone_label(name: str) -> str:
    """How a zone reads in a list: `America/New York`."""
    return name.replace("_", " ")


def timezone_choices() -> list[tuple[str, str]]:
    """(name, label) for each zone offered, for a drop-down."""
    return [(name, timezone_label(name)) for name in pytz.common_timezones]


@functools.cache
def _names() -> frozenset[str]:
    return frozenset(pytz.common_timezones)


def validate_timezone(value: str) -> None:
    """The `timezone` fields' validator: an offered zone name, or a ValidationError."""
    if value not in _names():
        raise ValidationError(
            "“%(value)s” is not a time zone we offer; use an IANA name such as America/Los_Angeles.",
            code="invalid_choice",
            params={"value": value},
        )
