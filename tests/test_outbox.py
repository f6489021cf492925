"""The outbox engine (helpdesk/outbox.py) and the outbox process (helpdesk/pager.py, `manage.py outbox`).

The engine is exercised on notification emails (any outbox table would do): one send per row whoever
attempts it, failures recorded with backoff, the last attempt given up, a withdrawn row never sent. The
process delivers due rows by polling (SQLite, and PostgreSQL's backstop) and, on PostgreSQL, as soon as
the row's transaction commits (LISTEN/NOTIFY); it survives a database error and stops on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from helpdesk import outbox
from helpdesk.pager import Lane, Pager
from tests.sla.conftest import wait_until, worker_environment
from tickets import notifications
from tickets.models import OutgoingEmail
from tickets.services import ticket_create

BASE_DIR = Path(__file__).resolve().parent.parent
POLICY = outbox.RetryPolicy(base=2, max_delay=600, max_attempts=3)


def queued_email(requester) -> OutgoingEmail:
    """A ticket (its commit hooks, which would enqueue, do not run here) and its "ticket received" row."""
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")
    return OutgoingEmail.objects.get(ticket=ticket)


def attempt(email: OutgoingEmail, send, **options) -> outbox.Outcome:
    return outbox.attempt(OutgoingEmail.objects, email.pk, send=send, policy=POLICY, **options)


def failing(row) -> None:
    raise ConnectionResetError("the SMTP server hung up")


# --- the engine ---------------------------------------------------------------------------------------


def test_the_backoff_doubles_up_to_its_cap():
    policy = outbox.RetryPolicy(base=2, max_delay=600, max_attempts=6)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 9, 10, 12)] == [2, 4, 8, 512, 600, 600]


def test_a_row_is_sent_once_and_recorded(db, requester):
    email = queued_email(requester)
    sent = []

    outcome = attempt(email, lambda row: sent.append(row.pk) or 250)

    assert (outcome.status, outcome.attempts, outcome.attempted) == ("sent", 1, True)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.response_code, email.last_error) == ("sent", 1, 250, "")
    assert email.delivered_at is not None
    assert attempt(email, lambda row: sent.append(row.pk)) == outbox.BUSY  # sent is final
    assert sent == [email.pk]


def test_a_failure_backs_off_and_the_last_one_gives_up(db, requester):
    email = queued_email(requester)
    before = timezone.now()

    first = attempt(email, failing)

    assert (first.status, first.attempts, first.retry_in) == ("retrying", 1, 2.0)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.response_code) == ("retrying", 1, None)
    assert "hung up" in email.last_error
    assert before + timedelta(seconds=2) <= email.next_attempt_at <= timezone.now() + timedelta(seconds=2)

    # Its backoff has not passed: whoever respects it leaves the row alone.
    waiting = attempt(email, failing)
    assert (waiting.status, waiting.attempted) == ("waiting", False)
    assert 0 < waiting.retry_in <= 2

    assert attempt(email, failing, respect_backoff=False).retry_in == 4.0  # a task's explicit retry
    last = attempt(email, failing, respect_backoff=False)
    assert (last.status, last.attempts, last.retry_in) == ("failed", 3, None)
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("failed", 3)
    assert attempt(email, failing, respect_backoff=False) == outbox.BUSY  # given up is final


def test_a_withdrawn_row_is_failed_without_an_attempt(db, requester):
    email = queued_email(requester)

    def withdraw(row):
        raise outbox.Withdrawn("Nobody to send it to.")

    outcome = attempt(email, withdraw)

    assert (outcome.status, outcome.attempted) == ("withdrawn", True)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == ("failed", 0, "Nobody to send it to.")


def test_due_rows_come_longest_waiting_first(db, requester):
    first, second, later = (queued_email(requester) for _ in range(3))
    now = timezone.now()
    OutgoingEmail.objects.filter(pk=first.pk).update(next_attempt_at=now - timedelta(minutes=5))
    OutgoingEmail.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=5))
    OutgoingEmail.objects.filter(pk=second.pk).update(
        status="retrying", next_attempt_at=now - timedelta(seconds=1)
    )

    assert outbox.due(OutgoingEmail.objects, now, 10) == [first.pk, second.pk]
    assert outbox.due(OutgoingEmail.objects, now, 1) == [first.pk]
    assert outbox.due(OutgoingEmail.objects, now + timedelta(minutes=6), 10) == [
        first.pk,
        second.pk,
        later.pk,
    ]


def test_the_outboxes_are_served_pages_first():
    assert [box.name for box in outbox.registered()] == ["escalations", "emails", "webhooks"]


# --- the fast path ------------------------------------------------------------------------------------


class Broker:
    """A task whose publishing fails with `error` (or succeeds when None)."""

    name = "tests.example"

    def __init__(self, error: Exception | None = None):
        self.error = error
        self.published = []

    def delay(self, *args):
        if self.error is not None:
            raise self.error
        self.published.append(args)


def test_enqueue_or_log_publishes_after_commit_then_calls_back(db, django_capture_on_commit_callbacks):
    task, called = Broker(), []
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue_or_log(task, 7, then=lambda: called.append(True))
        assert task.published == []  # not before the commit
    assert (task.published, called) == ([(7,)], [True])


def test_a_broker_that_is_down_is_logged_once_by_the_outage_and_fails_nothing(
    db, django_capture_on_commit_callbacks, caplog
):
    from kombu.exceptions import OperationalError as BrokerDown

    task, called = Broker(BrokerDown("Connection refused")), []
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue_or_log(task, 7, then=lambda: called.append(True))
    assert called == []
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]  # helpdesk.outages says it


def test_the_outbox_process_hands_nothing_to_celery(monkeypatch):
    task = Broker()
    monkeypatch.setattr(outbox, "_fast_path", True)
    outbox.disable_fast_path()
    assert outbox.publish(task, 1) is False
    assert task.published == []


# --- the outbox process -------------------------------------------------------------------------------


def test_once_delivers_what_is_due_by_priority_and_nothing_twice(db, requester, mailoutbox):
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")

    Pager(poll=1, listen=False).deliver_due()
    Pager(poll=1, listen=False).deliver_due()

    assert [m.extra_headers["Message-ID"] for m in mailoutbox] == [notifications.thread_id(ticket)]
    assert OutgoingEmail.objects.get(ticket=ticket).status == "sent"


def test_the_command_once_delivers_what_is_due(db, requester, mailoutbox, monkeypatch):
    monkeypatch.setattr(outbox, "_fast_path", True)  # the command turns it off for its process: this one
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")
    call_command("outbox", "--once")
    assert [m.to for m in mailoutbox] == [[requester.email]]
    assert OutgoingEmail.objects.get(ticket=ticket).status == "sent"


def test_a_lane_survives_a_database_error_and_goes_on():
    calls = []

    def due(now, limit):
        calls.append(now)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return [1] if len(calls) == 2 else []

    delivered = []
    box = outbox.Outbox(name="test", priority=9, due=due, deliver=lambda pk: delivered.append(pk) or True)
    stopping = threading.Event()
    lane = Lane(box, stopping, poll=0.05)
    lane.thread.start()
    try:
        wait_until(lambda: len(calls) >= 3, timeout=5, message="the lane stopped after a database error")
    finally:
        stopping.set()
        lane.wake.set()
        lane.thread.join(timeout=5)
    assert delivered == [1]
    assert not lane.thread.is_alive()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_a_committed_row_wakes_the_process_at_once(requester, mailoutbox):
    """On PostgreSQL the commit NOTIFYs the process (a poll of a minute would not be in time); on SQLite the
    short poll finds it."""
    listening = connection.vendor == "postgresql"
    pager = Pager(poll=60 if listening else 0.2).start()
    try:
        if listening:
            assert pager.listener.listening.wait(timeout=10)
        committed = time.monotonic()
        ticket = ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")
        wait_until(lambda: len(mailoutbox) == 1, timeout=5, message="the email was not sent")
        assert time.monotonic() - committed < 5
        assert mailoutbox[0].extra_headers["Message-ID"] == notifications.thread_id(ticket)
    finally:
        assert pager.stop(timeout=10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_the_notification_is_sent_at_commit_and_never_for_a_rollback(requester):
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {outbox.CHANNEL}")
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket_create(requester=requester, subject="Rolled back", description="d")
            raise RuntimeError("the change fails")
        assert list(listener.notifies(timeout=0.5)) == []
        with transaction.atomic():
            ticket_create(requester=requester, subject="Kept", description="d", severity="S1")
            assert list(listener.notifies(timeout=0.3)) == []  # not before the commit
        names = {n.payload for n in listener.notifies(timeout=2, stop_after=2)}
    assert names == {"emails", "escalations"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_two_senders_racing_send_one_email(requester):
    """Both take the row at once (SKIP LOCKED): one sends while the other finds it locked."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serializes writers instead")
    email = queued_email(requester)
    barrier = threading.Barrier(2)
    sent, outcomes = [], []

    def slow_send(row):
        sent.append(row.pk)
        time.sleep(0.3)  # the receiver thinking: the lock is held meanwhile

    def race():
        try:
            barrier.wait(timeout=5)
            outcomes.append(attempt(email, slow_send).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["busy", "sent"]
    assert sent == [email.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_the_command_stops_on_sigterm(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the process shares the test database only on PostgreSQL")
    env = worker_environment(database=connection.settings_dict, redis_url="", queue="unused")
    log = tmp_path / "outbox.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "outbox"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: b"Outbox delivering" in log.read_bytes(), timeout=30, message=log.read_text())
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "Outbox stopped." in log.read_text()


def test_a_lane_leaves_the_fast_path_its_grace():
    """Told of a commit, a lane looks `grace` later, at the rows due `grace` ago: a row whose task sent it
    in time is never touched."""
    looks = []

    def due(now, limit):
        looks.append((time.monotonic(), now))
        return []

    box = outbox.Outbox(name="test", priority=9, due=due, deliver=lambda pk: True)
    stopping = threading.Event()
    lane = Lane(box, stopping, poll=60, grace=0.3)
    lane.thread.start()
    try:
        wait_until(lambda: looks, timeout=5)  # the first look, at once
        woken = time.monotonic()
        lane.notify()
        wait_until(lambda: len(looks) == 2, timeout=5, message="the lane did not look again when notified")
    finally:
        stopping.set()
        lane.wake.set()
        lane.thread.join(timeout=5)
    looked_at, cutoff = looks[1]
    assert looked_at - woken >= 0.3
    assert timezone.now() - cutoff >= timedelta(seconds=0.3)


def test_a_burst_of_commits_is_looked_at_a_grace_after_the_first_not_the_last():
    looks = []
    box = outbox.Outbox(
        name="test", priority=9, due=lambda now, limit: looks.append(time.monotonic()) or [], deliver=bool
    )
    stopping = threading.Event()
    lane = Lane(box, stopping, poll=60, grace=0.5)
    lane.thread.start()
    try:
        wait_until(lambda: looks, timeout=5)
        first = time.monotonic()
        for _ in range(8):  # a commit every 0.1 s, for longer than the grace
            lane.notify()
            stopping.wait(0.1)
        wait_until(lambda: len(looks) >= 3, timeout=5)
    finally:
        stopping.set()
        lane.wake.set()
        lane.thread.join(timeout=5)
    assert 0.5 <= looks[1] - first < 1.0  # not held back while commits keep coming


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_the_listener_reconnects_when_its_backend_is_terminated(requester, mailoutbox):
    """Its connection killed (pg_terminate_backend, as a failover or a restart would), the listener LISTENs
    again about a second later, and a row committed after that wakes its lane at once: with a poll of a
    minute, only the notification can deliver it within seconds."""
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    pager = Pager(poll=60).start()
    try:
        listener = pager.listener
        assert listener.listening.wait(timeout=10)
        killed = listener.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [killed])
            assert cursor.fetchone()[0] is True
        lost = time.monotonic()
        wait_until(
            lambda: listener.connections == 2 and listener.listening.is_set(),
            timeout=10,
            message="the listener did not connect again",
        )
        assert listener.backend_pid != killed
        assert time.monotonic() - lost < 5  # about a second (RECONNECT), not the minute's poll
        # The lanes woken by the reconnect have looked (and found nothing).
        wait_until(lambda: all(not lane.notified for lane in pager.lanes.values()), timeout=5)
        committed = time.monotonic()
        ticket_create(requester=requester, subject="Invites bounce", description="Since 9:12.")
        wait_until(lambda: len(mailoutbox) == 1, timeout=10, message="the email was not sent")
        assert time.monotonic() - committed < 5
    finally:
        assert pager.stop(timeout=10)
