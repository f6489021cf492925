"""Holidays by rule, for any year: a country's (and subdivision's) public holidays from python-holidays,
with its observed-day rules, plus a few company-holiday rules that countries do not define (the day after
Thanksgiving). A calendar names its rule set; days added or removed by hand are applied on top
(`sla.calendars`). No Django here: pure functions of (rule set, year), cached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays


def _fourth_thursday_of_november(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


#: Company holidays beside the country's: name → (label, the day of a year).
EXTRA_RULES: dict[str, tuple[str, Callable[[int], date]]] = {
    "day_after_thanksgiving": (
        "Day after Thanksgiving",
        lambda year: _fourth_thursday_of_november(year) + timedelta(days=1),
    ),
    "christmas_eve": ("Christmas Eve", lambda year: date(year, 12, 24)),
    "new_years_eve": ("New Year's Eve", lambda year: date(year, 12, 31)),
}
EXTRA_CHOICES = [(key, label) for key, (label, _) in EXTRA_RULES.items()]


@dataclass(frozen=True)
class RuleSet:
    """Which holidays a calendar observes by rule: a country (ISO 3166-1 alpha-2, '' for none), one of its
    subdivisions ('' for the whole country), and extra company holidays (keys of EXTRA_RULES)."""

    country: str = ""
    subdivision: str = ""
    extras: tuple[str, ...] = ()

    def days(self, year: int) -> dict[date, str]:
        """The days off of `year` by these rules, with their names."""
        return dict(_days(self, year))


@lru_cache(maxsize=4096)
def _days(rules: RuleSet, year: int) -> tuple[tuple[date, str], ...]:
    found: dict[date, str] = {}
    if rules.country:
        country = holidays.country_holidays(rules.country, subdiv=rules.subdivision or None, years=year)
        # Names of holidays falling on one day are joined by "; ", as python-holidays does.
        found.update((day, name) for day, name in country.items() if day.year == year)
    for key in rules.extras:
        label, day_of = EXTRA_RULES[key]
        day = day_of(year)
        found.setdefault(day, label)
    return tuple(sorted(found.items()))


def countries() -> dict[str, list[str]]:
    """Supported country codes and their subdivision codes."""
    return holidays.list_supported_countries()


def check(country: str, subdivision: str = "", extras: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Errors by field name for a rule set ({} when valid), worded for the person who typed it."""
    errors: dict[str, str] = {}
    supported = countries()
    if country and country not in supported:
        errors["holiday_country"] = (
            f"“{country}” is not a supported country code. Use an ISO 3166-1 alpha-2 code such as US, GB, DE "
            "or CA, or leave it empty for no holidays by rule."
        )
    elif subdivision:
        if not country:
            errors["holiday_subdivision"] = "A subdivision needs a country."
        elif subdivision not in supported[country]:
            known = ", ".join(supported[country][:12]) or "none"
            errors["holiday_subdivision"] = (
                f"“{subdivision}” is not a subdivision of {country} (known: {known}"
                f"{', …' if len(supported[country]) > 12 else ''})."
            )
    unknown = [key for key in extras if key not in EXTRA_RULES]
    if unknown:
        errors["holiday_extras"] = (
            f"Unknown extra holiday rule(s): {', '.join(map(str, unknown))}. Choose from: "
            f"{', '.join(EXTRA_RULES)}."
        )
    return errors


def split_subdivision(country: str, subdivision: str) -> tuple[str, str]:
    """Accept 'US-CA' for a subdivision (ISO 3166-2 style) as well as 'CA'; codes are upper case."""
    country, subdivision = country.strip().upper(), subdivision.strip().upper()
    prefix, dash, rest = subdivision.partition("-")
    if dash and (not country or prefix == country):
        return prefix, rest
    return country, subdivision
