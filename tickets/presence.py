"""Which agents have the console open now: the chat panel says "An agent is online" only then.

Every console page of an agent holds a live-update socket (`tickets.live.consumers`). A socket that
opens says so here, says so again at each heartbeat (every 25 s) and takes itself off when it closes.
What is kept is one entry per socket with an expiry, in the shared cache (Redis in production, so every
web process sees every agent's sockets; the process's memory in embedded mode, which serves from one
process): a socket whose browser crashed or whose server was killed stops renewing its entry and drops
out after AGENT_PRESENCE_SECONDS, without anyone closing it.

The entries live under one cache key, read and written whole. Two sockets writing at the same instant
can lose one entry; the socket puts it back at its next heartbeat, so the answer is wrong for at most
one heartbeat in that rare case, never for longer. While Redis is down the cache answers as empty:
nobody is online, and the panel promises the chart's due time instead (the honest side to err on).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

KEY = "live:agents-online"


def agent_here(*, user_id: int, socket: str) -> None:
    """A socket of agent `user_id` is open (opened, or still open at a heartbeat)."""
    now = time.time()
    entries = _current(now)
    entries[socket] = (user_id, now + settings.AGENT_PRESENCE_SECONDS)
    cache.set(KEY, entries, timeout=settings.AGENT_PRESENCE_SECONDS)


def agent_gone(*, socket: str) -> None:
    """The socket closed."""
    now = time.time()
    entries = _current(now)
    if entries.pop(socket, None) is not None:
        cache.set(KEY, entries, timeout=settings.AGENT_PRESENCE_SECONDS)


def agents_online() -> set[int]:
    """The ids of the agents with a console page open now."""
    return {user_id for user_id, _ in _current(time.time()).values()}


def _current(now: float) -> dict[str, tuple[int, float]]:
    entries = cache.get(KEY) or {}
    return {socket: entry for socket, entry in entries.items() if entry[1] > now}
