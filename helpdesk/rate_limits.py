"""Fixed-window counters in the shared cache, for limits outside the API's throttles (password resets).

A rate is written as DRF's are: "5/hour", "20/min", "100/day". Counters live in the default cache
(Redis in production, so every web replica shares them); identifiers are hashed, so no email address or
client address is stored in the cache as it is. While the cache is unreachable the limits are not
enforced (helpdesk/cache.py answers as a miss): a request never fails on them.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIODS |= {"d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/hour" → (5, 3600)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip().lower()]


def rate_allows(*, scope: str, ident: str, rate: str) -> bool:
    """Count one more event for `ident` in `scope`; whether it is within `rate` (an empty rate: no limit)."""
    if not rate:
        return True
    limit, seconds = parse_rate(rate)
    key = f"rate:{scope}:{hashlib.sha256(ident.encode()).hexdigest()}"
    cache.add(key, 0, seconds)  # starts the window; a no-op while one is running
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, seconds)
        count = 1
    return count is None or count <= limit
