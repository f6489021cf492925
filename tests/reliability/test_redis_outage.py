"""Redis stopped during a burst of S1 creations (issue 7): no request fails, every ticket is saved with
its page, every ticket is paged exactly once within seconds of its commit while Redis is still down, and
every "ticket received" email goes out once. Also Redis hung (SIGSTOP), with no traffic after the burst:
the requests end within the socket timeouts instead of waiting forever, and the pages go out all the same.

The requests go through the real request path in this process (Django's test client, one per thread:
token-authenticated API creations, and portal sign-ins and new-ticket forms), with the cache and the
Celery broker on a private Redis. A real worker (one process throughout) and the outbox process run on
it. While Redis is down the cache answers as a miss (helpdesk/cache.py) and publishing fails fast
(helpdesk/celery.py); the pages and emails are outbox rows, committed with their tickets, and the outbox
process, woken by their NOTIFY, sends them from the database (helpdesk/pager.py). When Redis is back
the worker carries on (the same process), beat's sweep finds nothing left to send, and nothing was sent
twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sla.models import ContactKind, DeliveryStatus, Escalation, EscalationContact, EscalationDelivery, Level
from sla.sweep import ENQUEUE_GRACE, sweep
from tests.factories import PASSWORD, CustomerFactory
from tests.reliability.conftest import HoldingReceiver
from tests.sla.conftest import wait_until
from tickets.models import OutgoingEmail, Severity, Ticket, parse_reference
from tickets.models.integrations import ApiToken
from tickets.notifications import thread_id

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]

#: Threads per channel, and S1 tickets each thread creates.
THREADS = 3
TICKETS_PER_THREAD = 2
#: The slowest request allowed while Redis is down: the cache answers as a miss and publishing gives up at
#: once (a refused connection), so a creation costs what it costs with Redis up, about 0.1–0.3 s here.
REQUEST_BUDGET = 3.0
#: While Redis hangs, the request that finds out waits for the cache's socket timeout (0.5 s) and for
#: three attempts at the broker's (1 s each); the requests after it skip Redis for a moment.
HUNG_REQUEST_BUDGET = 8.0
#: The worker retries its broker connection after 2, 4, 6 … seconds (kombu's defaults).
RECONNECT_DEADLINE = 20.0
#: DESIGN.md: on-call contacts are paged "within seconds" of a ticket's commit, whatever is down.
PAGE_DEADLINE = 5.0
#: Emails have no deadline of their own; they go out with the pages here.
EMAIL_DEADLINE = 20.0


@dataclass(frozen=True)
class Outcome:
    what: str  # "api", "portal sign-in" or "portal form"
    status: int
    seconds: float
    reference: str | None  # of the ticket created


def timed(what: str, request) -> Outcome:
    started = time.perf_counter()
    response = request()
    seconds = time.perf_counter() - started
    reference = None
    if what == "api" and response.status_code == 201:
        reference = response.json()["reference"]
    elif what == "portal form" and response.status_code == 302:
        reference = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    return Outcome(what, response.status_code, seconds, reference)


def api_creations(key: str, number: int) -> list[Outcome]:
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    body = {"subject": f"API outage {number}", "description": "Checkout fails.", "severity": "S1"}
    return [
        timed("api", lambda: client.post("/api/v1/tickets/", body, content_type="application/json"))
        for _ in range(TICKETS_PER_THREAD)
    ]


def portal_creations(username: str, number: int) -> list[Outcome]:
    client = Client()
    credentials = {"username": username, "password": PASSWORD}
    outcomes = [timed("portal sign-in", lambda: client.post(reverse("portal:login"), credentials))]
    form = {
        "severity": Severity.S1,
        "subject": f"Portal outage {number}",
        "description": "No interview can be booked.",
        "candidates-TOTAL_FORMS": "0",
        "candidates-INITIAL_FORMS": "0",
        "candidates-MIN_NUM_FORMS": "0",
        "candidates-MAX_NUM_FORMS": "50",
    }
    outcomes += [
        timed("portal form", lambda: client.post(reverse("portal:ticket_new"), form))
        for _ in range(TICKETS_PER_THREAD)
    ]
    return outcomes


def burst(jobs) -> list[Outcome]:
    """Run each (function, argument, number) in a thread of its own, released together."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(function, argument, number) -> None:
        try:
            barrier.wait(timeout=10)
            done = function(argument, number)
            with lock:
                outcomes.extend(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return outcomes


@pytest.fixture
def receiver():
    receiver = HoldingReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def on_call(receiver) -> EscalationContact:
    return EscalationContact.objects.create(
        name="On-call pager", kind=ContactKind.WEBHOOK, url=receiver.url, on_page=True, on_breach=False
    )


@pytest.fixture
def clients(organization) -> list[tuple]:
    """The burst's jobs: THREADS API clients (a token each) and THREADS portal customers."""
    keys = [
        ApiToken.objects.issue(user=CustomerFactory(membership__organization=organization), name="ci")[1]
        for _ in range(THREADS)
    ]
    usernames = [CustomerFactory(membership__organization=organization).username for _ in range(THREADS)]
    return [(api_creations, key, n) for n, key in enumerate(keys)] + [
        (portal_creations, name, n) for n, name in enumerate(usernames)
    ]


def assert_saved_and_stranded(outcomes: list[Outcome], *, budget: float) -> tuple[set[str], object]:
    """Every request succeeded within `budget` seconds and saved its ticket with an S1 page that was not
    handed to Celery. Returns the references and the pages."""
    expected = {"api": 201, "portal sign-in": 302, "portal form": 302}
    assert [o for o in outcomes if o.status != expected[o.what]] == []
    assert max(o.seconds for o in outcomes) < budget, sorted(round(o.seconds, 3) for o in outcomes)
    references = {o.reference for o in outcomes if o.reference}
    assert len(references) == 2 * THREADS * TICKETS_PER_THREAD
    ids = [parse_reference(reference) for reference in references]
    assert Ticket.objects.filter(pk__in=ids, severity=Severity.S1).count() == len(references)
    pages = Escalation.objects.filter(ticket__in=ids, level=Level.PAGE)
    assert pages.filter(enqueued_at__isnull=True).count() == len(references)
    return references, pages


def assert_paged_once(receiver, references: set[str], pages) -> None:
    """Each ticket paged exactly once (one POST, answered 200, its own delivery id), recorded as sent."""
    received = receiver.received()
    assert Counter(p.reference for p in received) == Counter(references)
    assert {p.status for p in received} == {200}
    assert len({p.delivery_id for p in received}) == len(references)
    sent = EscalationDelivery.objects.filter(escalation__in=pages, status=DeliveryStatus.SENT, attempts=1)
    assert sent.count() == len(references)


def all_paged(receiver, references: set[str]):
    return lambda: {p.reference for p in receiver.answered()} >= references


def assert_paged_within_seconds_of_commit(receiver, references: set[str]) -> None:
    """Every ticket's page answered within PAGE_DEADLINE of the ticket's creation (before its commit)."""
    wait_until(all_paged(receiver, references), timeout=EMAIL_DEADLINE, message="not every ticket was paged")
    created = dict(
        Ticket.objects.filter(pk__in=[parse_reference(r) for r in references]).values_list("pk", "created_at")
    )
    late = {}
    for post in receiver.answered():
        seconds = post.received_wall - created[parse_reference(post.reference)].timestamp()
        if seconds >= PAGE_DEADLINE:
            late[post.reference] = round(seconds, 2)
    assert late == {}, f"paged later than {PAGE_DEADLINE} s after the commit: {late}"


def assert_emailed_once(stack, references: set[str]) -> None:
    """Every ticket's "ticket received" email sent exactly once (by the outbox or the worker), recorded so."""
    tickets = Ticket.objects.filter(pk__in=[parse_reference(r) for r in references])
    expected = {thread_id(ticket) for ticket in tickets}

    def sent() -> Counter:
        return Counter(message["Message-ID"] for message in stack.mailbox())

    wait_until(lambda: set(sent()) >= expected, timeout=EMAIL_DEADLINE, message="emails missing")
    counts = sent()
    assert {msgid: counts[msgid] for msgid in expected} == dict.fromkeys(expected, 1)
    rows = OutgoingEmail.objects.filter(ticket__in=tickets)
    assert set(rows.values_list("kind", "status", "attempts")) == {("received", "sent", 1)}
    assert rows.count() == len(references)


def test_s1_tickets_created_while_redis_is_down_are_paged_within_seconds_and_once(
    private_stack, receiver, on_call, clients
):
    worker = private_stack.start_worker()
    pid = worker.process.pid
    private_stack.start_outbox()

    private_stack.redis.stop()
    outcomes = burst(clients)

    references, pages = assert_saved_and_stranded(outcomes, budget=REQUEST_BUDGET)
    assert_paged_within_seconds_of_commit(receiver, references)  # Redis is still down
    assert_emailed_once(private_stack, references)
    assert worker.process.poll() is None

    private_stack.redis.start()  # empty: no queue, no binding survived
    worker.wait_ready(timeout=RECONNECT_DEADLINE)  # the same worker process reconnected by itself
    worker.wait_idle()
    # Beat's next sweep (a few seconds later, past the grace of fresh pages) has nothing left to send.
    assert sweep(now=timezone.now() + ENQUEUE_GRACE).reenqueued == 0
    assert_paged_once(receiver, references, pages)
    assert_emailed_once(private_stack, references)
    assert (worker.process.pid, worker.process.poll()) == (pid, None)


def test_s1_tickets_created_while_redis_hangs_are_paged_within_seconds_with_no_later_traffic(
    private_stack, receiver, on_call, clients
):
    worker = private_stack.start_worker()
    private_stack.start_outbox()

    private_stack.redis.freeze()  # connections open, nothing answers: only timeouts end a call
    outcomes = burst(clients)

    # Nothing is filed after the burst, and Redis stays frozen: nothing but the outbox process can page.
    references, pages = assert_saved_and_stranded(outcomes, budget=HUNG_REQUEST_BUDGET)
    assert_paged_within_seconds_of_commit(receiver, references)
    assert_emailed_once(private_stack, references)

    private_stack.redis.thaw()
    worker.wait_idle()  # the worker kept its connection and carries on
    assert sweep(now=timezone.now() + ENQUEUE_GRACE).reenqueued == 0
    assert_paged_once(receiver, references, pages)
    assert_emailed_once(private_stack, references)
    assert worker.process.poll() is None
