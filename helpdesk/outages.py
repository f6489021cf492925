"""Remembering, per process, that a service is down, so that its callers fail fast and the log says so
once rather than once per call.

Redis is the cache and the Celery broker: when it is unreachable a request must neither fail nor wait
on it call after call. After a connection error, `Outage.failed()` opens the outage: for `retry_after`
seconds `down()` answers True and callers skip the service (a cache miss, a task left to the SLA
sweep). The first call after that tries the service again; `succeeded()` closes the outage. The log
gets a warning when an outage starts, one a minute while it lasts (with the number of calls that
failed or were skipped) and one when the service is back.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

_REPORT_EVERY = 60.0


class Outage:
    """The state of one service in this process; thread-safe."""

    def __init__(self, name: str, *, retry_after: float):
        self.name = name
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic start of the current outage, None while up
        self._retry_at = 0.0
        self._reported_at = 0.0
        self._calls = 0  # calls that failed or were skipped since the last report

    def down(self) -> bool:
        """Whether callers should skip the service right now (counted as a skipped call)."""
        if self._since is None:  # the common case, without the lock
            return False
        with self._lock:
            now = time.monotonic()
            if self._since is None or now >= self._retry_at:
                return False
            self._calls += 1
            self._report(now)
            return True

    def failed(self, error: BaseException) -> None:
        """A call failed for want of the service: skip it for `retry_after` seconds."""
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + self.retry_after
            if self._since is None:
                self._since = self._reported_at = now
                self._calls = 1
                logger.warning(
                    "%s unreachable (%s: %s); calls skip it, trying again every %g s",
                    self.name,
                    type(error).__name__,
                    error,
                    self.retry_after,
                )
            else:
                self._calls += 1
                self._report(now)

    def succeeded(self) -> bool:
        """A call went through: the outage, if any, is over. True if this call ended one."""
        if self._since is None:
            return False
        with self._lock:
            if self._since is None:
                return False
            logger.warning(
                "%s is back after %.1f s (%d calls failed or were skipped meanwhile)",
                self.name,
                time.monotonic() - self._since,
                self._calls,
            )
            self._since = None
            self._calls = 0
            return True

    def _report(self, now: float) -> None:
        if now - self._reported_at >= _REPORT_EVERY:
            logger.warning(
                "%s still unreachable after %.0f s (%d calls failed or were skipped in the last %.0f s)",
                self.name,
                now - self._since,
                self._calls,
                now - self._reported_at,
            )
            self._reported_at = now
            self._calls = 0


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage(name: str, *, retry_after: float) -> Outage:
    """The process's `Outage` for the service called `name` (made on first use)."""
    with _outages_lock:
        if name not in _outages:
            _outages[name] = Outage(name, retry_after=retry_after)
        return _outages[name]


def describe(url: str) -> str:
    """A service URL fit for the log: scheme, host, port and path, never the credentials."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}"
