"""The event spine's dispatcher: every recorded ticket event goes to each subscriber, once.

`tickets.events` records an event (the audit row) and hands it to `dispatch`. Subscribers come in two
kinds, and each says which it is when it subscribes:

- **In the transaction** (`durable=True`): they write rows that must commit or roll back with the change
  itself, the outboxes. The webhook deliveries and the notification emails are written here, so a change
  that commits has its announcements committed too, whatever happens to the process or the broker next.
- **After commit** (the default): they react to what is now true, e.g. publishing to live-update
  channels. They never run for a change that rolled back (a savepoint rolled back drops its events too,
  as Django's `on_commit` does), and one failing subscriber neither fails the request, whose data is
  already saved, nor keeps the others from running.

Subscribers are registered when the apps are ready (`tickets/apps.py`), in the order they should run. A
subscriber receives the `Event` row and reads its typed payload with `tickets.events.payload_of`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from tickets.models import Event

logger = logging.getLogger(__name__)

Handler = Callable[[Event], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    handler: Handler
    durable: bool


_subscribers: list[Subscriber] = []


def subscribe(handler: Handler, *, durable: bool = False, name: str = "") -> Handler:
    """Register `handler` for every event. `durable`: run it inside the transaction that records the event
    (for outbox writes); otherwise after commit. Registering the same handler twice is a no-op."""
    name = name or f"{handler.__module__}.{handler.__qualname__}"
    if not any(s.name == name for s in _subscribers):
        _subscribers.append(Subscriber(name=name, handler=handler, durable=durable))
    return handler


def unsubscribe(handler: Handler) -> None:
    """Remove `handler` (tests that subscribe a probe use this to clean up)."""
    _subscribers[:] = [s for s in _subscribers if s.handler is not handler]


def subscribers() -> list[Subscriber]:
    return list(_subscribers)


def dispatch(event: Event) -> None:
    """Run the durable subscribers now, in the caller's transaction (their errors roll the change back,
    as they must: an announcement that cannot be written is a change that cannot be made), and the others
    once the transaction commits."""
    for subscriber in _subscribers:
        if subscriber.durable:
            subscriber.handler(event)
    if any(not s.durable for s in _subscribers):
        transaction.on_commit(lambda: _after_commit(event))


def _after_commit(event: Event) -> None:
    for subscriber in _subscribers:
        if subscriber.durable:
            continue
        try:
            subscriber.handler(event)
        except Exception:  # the change is committed: a subscriber's failure must not undo or hide it
            logger.exception(
                "Event subscriber %s failed on event %s (%s)", subscriber.name, event.pk, event.kind
            )
