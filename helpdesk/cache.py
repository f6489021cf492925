"""Cache keys that carry the database's name.

One Redis may serve several helpdesk databases at once (the test suite's parallel workers, benchmarks,
staging beside production): a cached count or flag of one database must never answer for another.
"""

from django.db import connection


def make_key(key: str, key_prefix: str, version: int) -> str:
    return f"{key_prefix}:{connection.settings_dict['NAME']}:{version}:{key}"
