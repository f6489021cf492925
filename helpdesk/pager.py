"""The outbox process (`manage.py outbox`, "the pager"): delivers the outbox's rows straight from the
database, so an S1 page goes out within seconds of its commit whatever the broker is doing (stopped, hung,
restarted empty) and whatever happened to the worker that had its task.

- **Lanes.** One thread per registered outbox (helpdesk.outbox: escalations, emails, webhooks), each
  on its own database connection, so a page never waits behind an email or a slow webhook receiver. A
  lane takes the rows that have been due for `grace` seconds, the most urgent first (S1 pages before
  every other escalation), and makes one attempt at each under its row lock (helpdesk.outbox.attempt).
  The grace is the fast path's head start: a row whose Celery task (or task's retry) runs in time is sent
  before the lane looks, so the two do not both work on every row; a row the task is sending at that
  moment is skipped. When nothing moved, the lane sleeps until it is woken or `poll` seconds pass (the
  backstop, and the only way on SQLite).
- **Listener.** On PostgreSQL a thread LISTENs on the outbox channel. An insert into an outbox table
  NOTIFYs it when its transaction commits (a trigger), which wakes that outbox's lane: it looks again
  `grace` seconds after each commit it heard of. When the connection is lost (the server restarted, the
  backend terminated, a network cut the heartbeat finds) it connects again about RECONNECT seconds
  later, whatever the lanes' poll, and wakes every lane: notifications sent meanwhile are gone, and the
  lanes' look finds their rows.
- **Stopping.** `stop()` (the command calls it on SIGTERM or SIGINT): each lane finishes the attempt in
  hand, then the threads end.

A lane that cannot reach the database says so once (helpdesk.outages), drops its connection and tries
again at its next poll. Several outbox processes may run at once: the row locks keep them apart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from datetime import timedelta

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.utils import timezone

from helpdesk import outbox
from helpdesk.outages import outage

logger = logging.getLogger(__name__)

#: Rows a lane takes per query.
BATCH = 50
#: Seconds a lane waits at least between two looks that commits asked for: under steady traffic it looks
#: four times a second, not once per commit.
COALESCE = 0.25
#: Seconds between two checks that the listener's connection is alive: a database host that vanished
#: sends no reset, and a query fails only after the connection's tcp_user_timeout.
HEARTBEAT = 10.0
#: Seconds the listener waits before connecting again after losing its connection (at most the poll):
#: long enough not to hammer a database that is restarting, short enough that commits wake the lanes
#: again within about a second.
RECONNECT = 1.0


class Lane:
    """The thread that delivers one outbox."""

    def __init__(
        self,
        box: outbox.Outbox,
        stopping: threading.Event,
        *,
        poll: float,
        grace: float = 0.0,
        batch: int = BATCH,
    ):
        self.outbox = box
        self.stopping = stopping
        self.poll = poll
        self.grace = timedelta(seconds=grace)
        self.batch = batch
        self.wake = threading.Event()
        #: When rows of this outbox were committed (time.monotonic()) and not yet looked at.
        self.notified: deque[float] = deque()
        self.database = outage(f"Database (outbox {box.name})", retry_after=poll)
        self.thread = threading.Thread(target=self.run, name=f"outbox-{box.name}", daemon=True)

    def notify(self) -> None:
        """Rows of this outbox were committed just now: look at them once their grace has passed."""
        self.notified.append(time.monotonic())
        self.wake.set()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                looked = time.monotonic()
                if self.deliver_due():
                    continue  # a full batch: more may be due at once
                # What was committed a grace before this look was in it.
                while self.notified and self.notified[0] <= looked - self.grace.total_seconds():
                    self.notified.popleft()
                self.rest(looked)
        finally:
            connection.close()

    def rest(self, looked: float) -> None:
        """Until the first row notified and not looked at is due (its grace after its commit, and at
        least COALESCE after the last look), or a notification arrives, or `poll` seconds pass."""
        if not self.notified:
            self.wake.wait(self.poll)
            self.wake.clear()
        if self.notified:
            due_at = max(self.notified[0] + self.grace.total_seconds(), looked + COALESCE)
            due_in = due_at - time.monotonic()
            if due_in > 0:
                self.stopping.wait(min(due_in, self.poll))

    def deliver_due(self) -> bool:
        """Attempt one batch of the rows due `grace` ago. True when something moved and the batch was full:
        more may be due at once."""
        try:
            ids = self.outbox.due(timezone.now() - self.grace, self.batch)
        except DatabaseError as error:
            self._lost(error)
            return False
        self.database.succeeded()
        moved = 0
        for pk in ids:
            if self.stopping.is_set():
                break
            moved += self._deliver(pk)
        return bool(moved) and len(ids) == self.batch

    def _deliver(self, pk: int) -> bool:
        try:
            return self.outbox.deliver(pk)
        except DatabaseError as error:
            self._lost(error)
        except Exception:
            logger.exception("Outbox %s: delivering row %s failed", self.outbox.name, pk)
        return False

    def _lost(self, error: DatabaseError) -> None:
        self.database.failed(error)
        connection.close()  # the next query connects afresh


class Listener:
    """LISTENs on the outbox channel and wakes the lane a notification names (PostgreSQL only)."""

    def __init__(self, lanes: dict[str, Lane], stopping: threading.Event, *, retry_after: float):
        self.lanes = lanes
        self.stopping = stopping
        self.retry_after = retry_after
        self.database = outage("Database (outbox listener)", retry_after=retry_after)
        #: Set while the connection LISTENs.
        self.listening = threading.Event()
        #: The PostgreSQL backend process of the listening connection (None while not connected).
        self.backend_pid: int | None = None
        #: How many times the connection LISTENed (1 at start; more after reconnecting).
        self.connections = 0
        self.thread = threading.Thread(target=self.run, name="outbox-listener", daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.listen()
            self.stopping.wait(self.retry_after)

    def listen(self) -> None:
        """Until stopped or the connection fails: wake the lanes as notifications arrive."""
        wrapper = connections.create_connection(DEFAULT_DB_ALIAS)  # its own, autocommit, for this thread
        try:
            wrapper.ensure_connection()
            raw = wrapper.connection
            raw.execute(f"LISTEN {outbox.CHANNEL}")
            self.backend_pid = raw.info.backend_pid
            self.connections += 1
            self.listening.set()
            logger.info("Outbox listening on %s", outbox.CHANNEL)
            self.database.succeeded()
            self.wake_all()
            checked = time.monotonic()
            while not self.stopping.is_set():
                for notification in raw.notifies(timeout=1.0):
                    self.wake(notification.payload)
                if time.monotonic() - checked >= HEARTBEAT:
                    raw.execute("SELECT 1")
                    checked = time.monotonic()
        except (DatabaseError, psycopg.Error) as error:
            self.database.failed(error)
        finally:
            self.listening.clear()
            self.backend_pid = None
            with contextlib.suppress(Exception):
                wrapper.close()

    def wake(self, name: str) -> None:
        lane = self.lanes.get(name)
        if lane is None:
            self.wake_all()
        else:
            lane.notify()

    def wake_all(self) -> None:
        for lane in self.lanes.values():
            lane.notify()


class Pager:
    """The lanes of every registered outbox, and on PostgreSQL the listener that wakes them."""

    def __init__(self, *, poll: float, grace: float = 0.0, listen: bool | None = None):
        self.stopping = threading.Event()
        self.lanes = {
            box.name: Lane(box, self.stopping, poll=poll, grace=grace) for box in outbox.registered()
        }
        if listen is None:
            listen = connection.vendor == "postgresql"
        self.listener = (
            Listener(self.lanes, self.stopping, retry_after=min(poll, RECONNECT)) if listen else None
        )

    @property
    def threads(self) -> list[threading.Thread]:
        lanes = [lane.thread for lane in self.lanes.values()]
        return lanes + ([self.listener.thread] if self.listener else [])

    def start(self) -> Pager:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, *, timeout: float = 30) -> bool:
        """Ask every thread to stop and wait for them (at most `timeout` seconds in all). True if they
        all ended."""
        self.stopping.set()
        for lane in self.lanes.values():
            lane.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            if thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0))
        return not any(thread.is_alive() for thread in self.threads)

    def deliver_due(self) -> None:
        """Everything due now, in this thread, the outboxes by priority (`manage.py outbox --once`)."""
        for lane in self.lanes.values():
            while lane.deliver_due():
                pass
