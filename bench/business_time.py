"""Throughput of sla.business_time: additions and between() per second.

    .venv/bin/python bench/business_time.py [--before OLD_business_time.py] [--rounds N]

The default calendar (Mon–Fri 09:00–18:00 America/Los_Angeles, US federal holidays plus the day after
Thanksgiving) with its holidays as a fixed list for 2026–2028 ("default") and as a rule for any year
("rules", materialised as the arithmetic reaches each year), and the 24x7 calendar; random starts in 2026
(fixed seed); each figure is measured over at least a second of work. Plain Python, no Django.

`--before` loads another version of the module (e.g. `git show HEAD~3:sla/business_time.py > /tmp/old.py`)
and measures both in the same run, alternating, N rounds each: the medians per CPU second and the change,
a comparison that holds on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LA = ZoneInfo("America/Los_Angeles")
SEED = 20260101
SAMPLES = 10_000
MIN_SECONDS = 1.0
BUSINESS_DAY = timedelta(minutes=540)
BUSINESS_YEAR = 52 * 5 * BUSINESS_DAY  # 2,340 business hours


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0=Monday) of the month; n=-1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A holiday on a Saturday is observed on the Friday, one on a Sunday on the Monday."""
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def us_holidays(year: int) -> list[date]:
    """US federal holidays (observed) plus the day after Thanksgiving."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return [
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Presidents' Day
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 6, 19)),
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _observed(date(year, 11, 11)),
        thanksgiving,
        thanksgiving + timedelta(days=1),
        _observed(date(year, 12, 25)),
    ]


HOURS = [(weekday, clock(9), clock(18)) for weekday in range(5)]
SHIPPED_YEARS = (2026, 2027, 2028)


def calendars(module: Any) -> dict[str, Any]:
    """The bench's calendars built with `module` (sla.business_time or an older copy of it)."""
    built = {
        "default": module.Calendar(LA, HOURS, [day for year in SHIPPED_YEARS for day in us_holidays(year)]),
        "24x7": module.Calendar.always(),
    }
    try:
        built["rules"] = module.Calendar(LA, HOURS, holiday_rule=us_holidays)
    except TypeError:  # a version before holiday rules
        built["rules"] = built["default"]
    return built


def load_module(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("business_time_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and NamedTuples look their module up
    spec.loader.exec_module(module)
    return module


def random_starts(rng: random.Random) -> list[datetime]:
    """Random instants in 2026 to the microsecond, in Los Angeles time."""
    first = datetime(2026, 1, 1, tzinfo=LA)
    span = (datetime(2027, 1, 1, tzinfo=LA) - first) // timedelta(microseconds=1)
    return [(first + timedelta(microseconds=rng.randrange(span))).astimezone(LA) for _ in range(SAMPLES)]


def measure(operation: Callable[[datetime, Any], object], inputs: list[tuple]) -> tuple[float, float]:
    """Operations per second over at least MIN_SECONDS of work: per elapsed second (perf_counter) and per
    second of this process's CPU time (process_time, steadier on a busy machine)."""
    count = 0
    started, started_cpu = time.perf_counter(), time.process_time()
    while True:
        for first, second in inputs:
            operation(first, second)
        count += len(inputs)
        elapsed = time.perf_counter() - started
        if elapsed >= MIN_SECONDS:
            return count / elapsed, count / (time.process_time() - started_cpu)


def rows(rng: random.Random) -> list[tuple[str, str, str, str, list[tuple]]]:
    """(calendar, operation, horizon, method name, inputs) of every figure."""
    starts = random_starts(rng)
    one_us = timedelta(microseconds=1)

    def fixed(duration: timedelta) -> list[tuple[datetime, timedelta]]:
        return [(start, duration) for start in starts]

    def up_to(limit: timedelta) -> list[tuple[datetime, timedelta]]:
        return [(start, one_us * rng.randrange(limit // one_us + 1)) for start in starts]

    def ends_within(limit: timedelta) -> list[tuple[datetime, datetime]]:
        return [(start, start + one_us * rng.randrange(limit // one_us + 1)) for start in starts]

    table = []
    for calendar in ("default", "rules"):
        table += [
            (calendar, "add", "1 hour", "add", fixed(timedelta(hours=1))),
            (calendar, "add", "1 business day (540 min)", "add", fixed(BUSINESS_DAY)),
            (calendar, "add", "1 month (22 business days)", "add", fixed(22 * BUSINESS_DAY)),
            (calendar, "add", "1 year (2,340 business hours)", "add", fixed(BUSINESS_YEAR)),
            (calendar, "add", "random, up to 1 year", "add", up_to(BUSINESS_YEAR)),
            (calendar, "between", "random, up to 1 day", "between", ends_within(timedelta(days=1))),
            (calendar, "between", "random, up to 1 year", "between", ends_within(timedelta(days=365))),
        ]
    return [
        *table,
        ("24x7", "add", "30 minutes", "add", fixed(timedelta(minutes=30))),
        ("24x7", "add", "random, up to 1 year", "add", up_to(timedelta(days=365))),
        ("24x7", "between", "random, up to 1 year", "between", ends_within(timedelta(days=365))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--before", help="another version of sla/business_time.py to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per version with --before")
    args = parser.parse_args()
    import sla.business_time as current

    table = rows(random.Random(SEED))
    print(f"sla.business_time: {SAMPLES:,} random starts in 2026 (seed {SEED}), ≥{MIN_SECONDS:g} s per row")
    if not args.before:
        built = calendars(current)
        print(f"{'calendar':<9} {'operation':<8} {'horizon':<30} {'per second':>12} {'per CPU second':>15}")
        print("-" * 78)
        for calendar, name, horizon, method, inputs in table:
            rate, cpu_rate = measure(getattr(built[calendar], method), inputs)
            print(f"{calendar:<9} {name:<8} {horizon:<30} {rate:>12,.0f} {cpu_rate:>15,.0f}")
        return
    versions = {"before": calendars(load_module(args.before)), "after": calendars(current)}
    print(f"per CPU second, median of {args.rounds} alternating rounds; 'rules' before = the fixed list")
    print(f"{'calendar':<9} {'operation':<8} {'horizon':<30} {'before':>10} {'after':>10} {'change':>8}")
    print("-" * 80)
    for calendar, name, horizon, method, inputs in table:
        figures: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            for version, built in versions.items():
                figures[version].append(measure(getattr(built[calendar], method), inputs)[1])
        before, after = (statistics.median(figures[v]) for v in ("before", "after"))
        print(
            f"{calendar:<9} {name:<8} {horizon:<30} {before:>10,.0f} {after:>10,.0f} "
            f"{(after / before - 1) * 100:>+7.1f}%"
        )


if __name__ == "__main__":
    main()
