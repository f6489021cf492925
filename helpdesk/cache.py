"""The Django cache on Redis: keys that carry the database's name, and a backend that survives Redis
being down.

One Redis may serve several helpdesk databases at once (the test suite's parallel workers, benchmarks,
staging beside production): a cached count or flag of one database must never answer for another.

Nothing the cache holds is the only copy (throttle counters, a ticket count, a flag read from the
database): while Redis is unreachable, `ResilientRedisCache` answers every call as a miss instead of
raising, so a request is served from the database rather than failing. API throttles are not enforced
meanwhile (their counters read as empty). Sessions are kept in the database, not here.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from helpdesk.outages import describe, outage

#: After a failure, calls answer as a miss without trying Redis for this long (seconds), so a Redis that
#: hangs costs one socket timeout every few seconds, not one per call.
RETRY_AFTER = 2.0
#: What "unreachable" means; other Redis errors (a wrong type, a script error) are bugs and raise.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}:{connection.settings_dict['NAME']}:{version}:{key}"


class ResilientRedisCache(RedisCache):
    """Django's Redis cache, answering as a miss while Redis is unreachable: `get` returns the default,
    `add`, `touch`, `delete` and `has_key` False, `set` does nothing, `incr`/`decr` raise ValueError as
    for a missing key. Failures are logged when they start and once a minute, not per call."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._outage = outage(
            "Redis cache at " + ", ".join(describe(s) for s in self._servers), retry_after=RETRY_AFTER
        )

    def _call(self, method, *args, miss: Any = None, **kwargs):
        if self._outage.down():
            return miss
        try:
            result = method(*args, **kwargs)
        except _UNREACHABLE as error:
            self._outage.failed(error)
            return miss
        self._outage.succeeded()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().add, key, value, timeout, version, miss=False)

    def get(self, key, default=None, version=None):
        return self._call(super().get, key, default, version, miss=default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._call(super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().touch, key, timeout, version, miss=False)

    def delete(self, key, version=None):
        return self._call(super().delete, key, version, miss=False)

    def get_many(self, keys, version=None):
        return self._call(super().get_many, keys, version, miss={})

    def has_key(self, key, version=None):
        return self._call(super().has_key, key, version, miss=False)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._call(super().incr, key, delta, version, miss=missing)
        if value is missing:
            raise ValueError(f"Key '{key}' not found (the cache is unreachable).")
        return value

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().set_many, data, timeout, version, miss=list(data))

    def delete_many(self, keys, version=None):
        self._call(super().delete_many, keys, version)

    def clear(self):
        return self._call(super().clear, miss=False)
