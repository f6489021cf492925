"""Faults of the paging path, the long versions of tests/reliability/test_redis_outage.py and
test_worker_killed.py (issue 7). Needs PostgreSQL (DATABASE_URL) and the redis-server binary::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk \\
        .venv/bin/python bench/faults.py redis-outage [--tickets 300] [--threads 8] [--beat-every 60] \\
        [--freeze]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk \\
        .venv/bin/python bench/faults.py worker-kill [--rounds 10] [--pool solo|prefork]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk \\
        .venv/bin/python bench/faults.py scenarios [--tickets 30] [--outage 10] [--rounds 5]

They work in the database `helpdesk_bench_faults` (or BENCH_FAULTS_DATABASE) on DATABASE_URL's server
(created and migrated if missing; its tickets truncated first) and on a private redis-server on a free
port, without persistence (a restart comes back empty), never REDIS_URL's. The site runs in this
process (Django's test client, a thread per client) as a deployed one would (DEBUG off); the workers are
`celery worker` subprocesses, and so is the outbox process (`manage.py outbox`) where the code has one;
the on-call receiver is a webhook server in a thread. `scenarios` has every process send its mail into
one folder (tests/reliability/mailbox.py).

- `redis-outage`: a worker and a pager (escalations only) as in production; `--tickets` S1 tickets are
  created by `--threads` clients (half through the API with a token, half signing in to the portal and
  sending its form) with Redis up, then again with Redis stopped (or, with `--freeze`, hung: SIGSTOP).
  Redis is started again on the same port (or resumed); beat's sweep runs every `--beat-every` seconds
  from then on (production: 60), and customers file `--after-rate` S1 tickets a second. Prints the
  requests' outcomes and latencies with Redis up and down, tickets saved, pages delivered and
  duplicated, and the times from Redis being back to the workers' reconnection and to the first and
  last page.
- `worker-kill`: `--rounds` times, an S1 page is held unanswered by the receiver while its worker is
  killed with SIGKILL (solo: the whole worker, then a fresh one is started; prefork: only the pool
  child). Prints, per round and in all, whether the page was answered exactly once with the same
  delivery id, and the time from the kill (and from the fresh worker's start) to the page. Where there is
  an outbox process it is started after the worker took the page (it would otherwise race it).
- `scenarios`: the faults side by side, each with the processes of a deployment (a worker, the pager
  worker, beat's sweep every `--beat-every` seconds, and the outbox process where the code has one), S1
  tickets filed through the services one every `--pace` seconds, their commit timed: Redis stopped for
  `--outage` seconds then restarted empty; Redis frozen (SIGSTOP) as long, then resumed, with nothing
  filed afterwards; and `--rounds` crashes mid-page (every sender SIGKILLed while the receiver holds the
  page's POST half a second, then started again). Prints, per scenario, the page latency from commit
  (p50, p99, max), pages missing and duplicated, and the "ticket received" emails expected, sent, lost
  (never sent by the end) and duplicated. Runs on the code before issue 12 too (copy this file and
  tests/reliability/mailbox.py there).

Exits 1 when a request failed, a ticket or a page is missing, or a page was answered twice; `scenarios`
exits 1 when a page is missing or duplicated.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench._stack import (  # noqa: E402
    HAS_OUTBOX,
    OutboxProcess,
    collect_static,
    create_database,
    machine,
    stats,
    table,
)
from bench.s1_page_latency import on_call_contact  # noqa: E402

#: The bench's database on DATABASE_URL's server (BENCH_FAULTS_DATABASE names another: code before and
#: after a migration must not share one).
DATABASE = os.environ.get("BENCH_FAULTS_DATABASE", "helpdesk_bench_faults")
#: The bench customers' password, new each run.
PASSWORD = secrets.token_urlsafe(16)
REQUEST_KINDS = ("api", "portal sign-in", "portal form")
EXPECTED_STATUS = {"api": 201, "portal sign-in": 302, "portal form": 302}


# --- set-up -------------------------------------------------------------------------------------------


def setup(redis_url: str, queue: str) -> None:
    """Point this process at the bench database (created and migrated) and the private Redis, as a
    deployed site; set Django up."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must point at PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/helpdesk)")
    create_database(DATABASE)
    os.environ.update(
        {
            "DATABASE_URL": urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}")),
            "REDIS_URL": redis_url,
            "CELERY_QUEUE": queue,
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "BEHIND_TLS_PROXY": "false",
            "API_RATE_PER_TOKEN": "1000000/min",
            "API_RATE_TOKEN_REQUESTS": "1000000/min",
            "API_RATE_ANONYMOUS": "1000000/min",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "ERROR",
        }
    )
    collect_static(DATABASE)  # DEBUG off: pages link hashed static files from the manifest
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:  # clocks, escalations, deliveries, events… go with them
        cursor.execute("TRUNCATE tickets_ticket CASCADE")


def customer(name: str):
    from django.contrib.auth import get_user_model

    from tickets.models import Membership, Organization

    organization, _ = Organization.objects.get_or_create(name="Bench Faults Corp")
    user, _ = get_user_model().objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.get_or_create(user=user, defaults={"organization": organization})
    return user


def create_s1(requester, subject: str):
    from tickets.models import Severity
    from tickets.services import ticket_create

    return ticket_create(
        requester=requester, subject=subject, description="Bench fault.", severity=Severity.S1
    )


def workers(stack_args: dict, *, pool: str, concurrency: int, pager: bool):
    """A worker for everything (and a pager for escalations only) on the private Redis."""
    from tests.sla.conftest import CeleryWorker, escalation_queue

    made = [CeleryWorker(**stack_args, pool=pool, concurrency=concurrency)]
    if pager:
        made.append(
            CeleryWorker(
                **{**stack_args, "log_path": stack_args["log_path"].with_name("celery-pager.log")},
                pool="prefork",
                concurrency=1,
                consume=[escalation_queue(stack_args["queue"])],
                name=f"pager-{stack_args['queue']}",
            )
        )
    return made


# --- redis-outage -------------------------------------------------------------------------------------


def burst(jobs: list[tuple[str, str, int]]) -> tuple[list[tuple[str, int, float, str | None]], float]:
    """Run the clients (kind "api" with a token key, or "portal" with a user name; each creating `count`
    S1 tickets) in a thread each. Returns every request's (kind, status, seconds, ticket reference) and
    the burst's duration."""
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    outcomes: list[tuple[str, int, float, str | None]] = []
    lock = threading.Lock()

    def timed(kind: str, request) -> None:
        started = time.perf_counter()
        response = request()
        seconds = time.perf_counter() - started
        reference = None
        if response.status_code == EXPECTED_STATUS[kind] and kind != "portal sign-in":
            location = response.json()["reference"] if kind == "api" else response["Location"]
            reference = location.rstrip("/").rsplit("/", 1)[-1]
        with lock:
            outcomes.append((kind, response.status_code, seconds, reference))

    def api_client(key: str, count: int) -> None:
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        for number in range(count):
            body = {"subject": f"API outage {number}", "description": "Checkout fails.", "severity": "S1"}
            timed("api", lambda b=body: client.post("/api/v1/tickets/", b, content_type="application/json"))

    def portal_client(username: str, count: int) -> None:
        client = Client()
        credentials = {"username": username, "password": PASSWORD}
        timed("portal sign-in", lambda: client.post(reverse("portal:login"), credentials))
        for number in range(count):
            form = {
                "severity": "S1",
                "subject": f"Portal outage {number}",
                "description": "No interview can be booked.",
                "candidates-TOTAL_FORMS": "0",
                "candidates-INITIAL_FORMS": "0",
                "candidates-MIN_NUM_FORMS": "0",
                "candidates-MAX_NUM_FORMS": "50",
            }
            timed("portal form", lambda f=form: client.post(reverse("portal:ticket_new"), f))

    def run(kind: str, who: str, count: int) -> None:
        try:
            (api_client if kind == "api" else portal_client)(who, count)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.monotonic() - began


def references_of(outcomes) -> set[str]:
    return {reference for *_, reference in outcomes if reference}


def wait_for_pages(receiver, references: set[str], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {p.reference for p in receiver.answered()} >= references:
            return True
        time.sleep(0.2)
    return False


def redis_outage(args, redis, receiver, stack_args) -> bool:
    from django.db import connection

    from sla.models import DeliveryStatus, EscalationDelivery, Level
    from sla.sweep import sweep
    from tickets.models import Ticket, parse_reference
    from tickets.models.integrations import ApiToken

    on_call_contact(receiver.url, secrets.token_hex(16))
    api_threads = max(args.threads // 2, 1)
    portal_threads = max(args.threads - api_threads, 1)
    jobs = [
        ("api", ApiToken.objects.issue(user=customer(f"bench-api-{n}"), name="bench")[1], 0)
        for n in range(api_threads)
    ]
    jobs += [("portal", customer(f"bench-portal-{n}").username, 0) for n in range(portal_threads)]
    jobs = [
        (kind, who, args.tickets // len(jobs) + (n < args.tickets % len(jobs)))
        for n, (kind, who, _) in enumerate(jobs)
    ]
    worker, pager = workers(stack_args, pool="prefork", concurrency=2, pager=True)
    worker.start()
    pager.start()
    pids = (worker.process.pid, pager.process.pid)
    outbox = (
        OutboxProcess(stack_args["env"], stack_args["log_path"].with_name("outbox.log"))
        if HAS_OUTBOX
        else None
    )
    if outbox is not None:
        outbox.start()

    # The same burst with Redis up first: the figures to compare with.
    baseline, baseline_seconds = burst(jobs)
    if not wait_for_pages(receiver, references_of(baseline), timeout=args.deadline):
        print("baseline: not every page arrived", file=sys.stderr)
        return False
    worker.wait_idle(timeout=60)
    pager.wait_idle(timeout=60)
    before = len(receiver.received())

    stopped = time.monotonic()
    redis.freeze() if args.freeze else redis.stop()
    outcomes, burst_seconds = burst(jobs)
    redis.thaw() if args.freeze else redis.start()
    back = time.monotonic()
    reconnected = {}
    for process in (worker, pager):
        process.wait_ready(timeout=120)
        reconnected[process.hostname] = time.monotonic() - back

    references = references_of(outcomes)
    ids = [parse_reference(reference) for reference in references]
    saved = Ticket.objects.filter(pk__in=ids).count()
    beat_stop = threading.Event()

    def beat() -> None:  # beat's sweep, every --beat-every seconds from Redis's return
        while not beat_stop.wait(args.beat_every):
            try:
                sweep()
            except Exception as error:  # noqa: BLE001 - reported; the next tick tries again
                print(f"sweep failed: {error!r}", file=sys.stderr)
            finally:
                connection.close()

    beat_thread = threading.Thread(target=beat, daemon=True)
    beat_thread.start()
    # Customers go on filing tickets (--after-rate a second) until every page of the outage is out.
    requester, later = customer("bench-after"), []
    deadline = time.monotonic() + args.deadline
    while not {p.reference for p in receiver.answered()} >= references and time.monotonic() < deadline:
        if args.after_rate:
            later.append(create_s1(requester, "After the outage").reference)
        time.sleep(1 / args.after_rate if args.after_rate else 0.2)
    wait_for_pages(receiver, set(later), timeout=args.deadline)
    beat_stop.set()
    beat_thread.join()
    worker.wait_idle(timeout=60)
    pager.wait_idle(timeout=60)
    time.sleep(0.5)  # duplicates, if any, are late by nature

    posts = receiver.received()[before:]
    answered = [p for p in posts if p.status == 200]
    per_reference = Counter(p.reference for p in answered)
    missing = (references | set(later)) - set(per_reference)
    duplicated = [reference for reference, count in per_reference.items() if count > 1]
    answered = [p for p in answered if p.reference in references]  # the outage's, for the timings
    sent = EscalationDelivery.objects.filter(
        escalation__ticket__in=ids, escalation__level=Level.PAGE, status=DeliveryStatus.SENT
    ).count()
    failed = [o for o in outcomes + baseline if o[1] != EXPECTED_STATUS[o[0]]]
    same_processes = (worker.process.pid, pager.process.pid) == pids
    for process in (worker, pager, outbox):
        if process is not None:
            process.stop()

    how = "frozen (SIGSTOP), then resumed" if args.freeze else "stopped, then restarted empty"
    print(f"\nRedis {how} during a burst of S1 creations ({machine()})")
    print(
        f"- {len(jobs)} clients ({api_threads} API, {portal_threads} portal), {args.tickets} S1 tickets per "
        f"burst: with Redis up in {baseline_seconds:.1f} s, then with Redis down in {burst_seconds:.1f} s "
        f"(down {back - stopped:.1f} s in all); requests failed: {len(failed)}"
    )
    rows = []
    for kind in REQUEST_KINDS:
        for label, sample in (("up", baseline), ("down", outcomes)):
            latencies = [o[2] * 1000 for o in sample if o[0] == kind]
            if latencies:
                figures = stats(latencies)
                row = [
                    kind,
                    label,
                    figures["n"],
                    figures["p50"],
                    figures["p95"],
                    figures["p99"],
                    figures["max"],
                ]
                rows.append(row)
    print(table(["request", "Redis", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    print(f"- tickets created while Redis was down: {len(references)}, saved {saved}")
    for hostname, seconds in reconnected.items():
        print(f"- {hostname.split('@')[0]} reconnected {seconds:.1f} s after Redis was back")
    print(f"- same worker processes throughout: {same_processes}")
    print(
        f"- pages of the outage's tickets: {len(answered)} of {len(references)} answered, {sent} deliveries "
        f"recorded sent; with the {len(later)} tickets filed after it: missing {len(missing)}, duplicated "
        f"{len(duplicated)}, {len(posts)} POSTs in all"
    )
    if answered:
        first = min(p.received_at for p in answered) - back
        last = max(p.received_at for p in answered) - back
        early = sum(p.received_at - back < args.beat_every for p in answered)
        print(f"- from Redis back: first page {first:.1f} s, last page {last:.1f} s")
        print(f"- answered before beat's first sweep ({args.beat_every:g} s after Redis was back): {early}")
    return not failed and saved == len(references) and same_processes and not (missing or duplicated)


# --- worker-kill --------------------------------------------------------------------------------------


def worker_kill(args, redis, receiver_class, stack_args) -> bool:
    from sla.models import DeliveryStatus, EscalationDelivery
    from tests.reliability.conftest import children

    requester = customer("bench-kill")
    rows, ok = [], True
    for round_number in range(1, args.rounds + 1):
        receiver = receiver_class(hold_first=True).start()
        on_call_contact(receiver.url, secrets.token_hex(16))
        worker, *_ = workers(
            {**stack_args, "log_path": stack_args["log_path"].with_name(f"celery-worker-{round_number}.log")},
            pool=args.pool,
            concurrency=1,
            pager=False,
        )
        fresh = outbox = None
        try:
            worker.start()
            ticket = create_s1(requester, f"Kill round {round_number}")
            receiver.wait_for(1, timeout=30)
            if HAS_OUTBOX:  # now, not before: it would race the worker for the page
                log_path = stack_args["log_path"].with_name(f"outbox-{round_number}.log")
                outbox = OutboxProcess(stack_args["env"], log_path).start()
            killed = time.monotonic()
            if args.pool == "solo":
                os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.wait(timeout=10)
            else:
                (child,) = children(worker.process.pid)
                os.kill(child, signal.SIGKILL)
                while child in children(worker.process.pid):
                    time.sleep(0.01)
            receiver.release()
            started = time.monotonic()
            if args.pool == "solo":
                fresh = workers(
                    {**stack_args, "log_path": worker.log_path.with_name(f"celery-fresh-{round_number}.log")},
                    pool="solo",
                    concurrency=1,
                    pager=False,
                )[0].start()
            receiver.wait_for(2, timeout=60, over=True)
            (fresh or worker).wait_idle(timeout=60)
            time.sleep(0.3)
            posts = receiver.received()
            answered = [p for p in posts if p.status == 200]
            delivery = EscalationDelivery.objects.get(escalation__ticket=ticket)
            once = (
                len(answered) == 1
                and len({p.delivery_id for p in posts}) == 1
                and delivery.status == DeliveryStatus.SENT
            )
            ok &= once
            page_at = answered[0].received_at if answered else float("nan")
            rows.append(
                [
                    round_number,
                    len(posts),
                    len(answered),
                    "yes" if once else "NO",
                    (page_at - killed) * 1000,
                    (page_at - started) * 1000,
                ]
            )
        finally:
            receiver.stop()
            for process in (worker, fresh, outbox):
                if process is not None:
                    process.stop()
    # solo: from the fresh worker's start (its boot included); prefork: from the child's death being seen.
    since = "fresh worker start" if args.pool == "solo" else "child reaped"
    print(f"\nWorker killed mid-delivery, pool {args.pool} ({machine()})")
    headers = ["round", "POSTs", "answered 200", "once, same id", "kill → page ms", f"{since} → page ms"]
    print(table(headers, rows))
    for label, column in (("kill → page", 4), (f"{since} → page", 5)):
        figures = stats([row[column] for row in rows])
        print(f"- {label}: p50 {figures['p50']:.0f} ms, max {figures['max']:.0f} ms")
    return ok


# --- the outbox process -------------------------------------------------------------------------------


# --- scenarios ----------------------------------------------------------------------------------------


def timed_s1(requester, subject: str) -> tuple[object, float]:
    """Create one S1 ticket; (the ticket, the monotonic time its transaction committed)."""
    from django.db import transaction

    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs first after COMMIT: before the page is handed to Celery.
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        ticket = create_s1(requester, subject)
    return ticket, committed[0]


class Deployment:
    """A worker, the pager worker and (where the code has one) the outbox process, all on the private Redis
    and sending mail into `mail_folder`; `crash()` SIGKILLs every one of them and their pool children."""

    def __init__(self, stack_args: dict, folder: Path, name: str):
        self.mail_folder = folder / f"mail-{name}"
        env = {
            **stack_args["env"],
            "EMAIL_BACKEND": "tests.reliability.mailbox.FolderBackend",
            "MAILBOX_DIR": str(self.mail_folder),
        }
        self.stack_args = {**stack_args, "env": env, "log_path": folder / f"celery-{name}.log"}
        self.outbox_log = folder / f"outbox-{name}.log"
        self.workers: list = []
        self.outbox: OutboxProcess | None = None

    def start(self) -> Deployment:
        if HAS_OUTBOX:  # first: it is what pages when the workers cannot
            self.outbox = OutboxProcess(self.stack_args["env"], self.outbox_log).start()
        self.workers = workers(self.stack_args, pool="prefork", concurrency=2, pager=True)
        for worker in self.workers:
            worker.start()
        return self

    def crash(self) -> None:
        from tests.reliability.conftest import children

        for worker in self.workers:
            for child in children(worker.process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            worker.process.kill()
            worker.process.wait(timeout=10)
        if self.outbox is not None:
            self.outbox.kill()

    def stop(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                worker.stop()
        if self.outbox is not None:
            self.outbox.stop()

    def emails(self) -> Counter:
        from tests.reliability import mailbox

        return Counter(message["Message-ID"] for message in mailbox.read(self.mail_folder))


def beat(every: float, stop: threading.Event) -> threading.Thread:
    """Beat's SLA sweep every `every` seconds, in a thread, until `stop`."""
    from django.db import connection

    from sla.sweep import sweep

    def run() -> None:
        while not stop.wait(every):
            try:
                sweep()
            except Exception as error:  # noqa: BLE001 - reported; the next tick tries again
                print(f"sweep failed: {error!r}", file=sys.stderr)
            finally:
                connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def outcome(name: str, answered: list, committed: dict, deployment: Deployment) -> dict:
    """The scenario's figures from the pages `answered` (200) and the emails sent (waited for a while)."""
    from tickets.models import Ticket, parse_reference
    from tickets.notifications import thread_id

    tickets = Ticket.objects.filter(pk__in=[parse_reference(reference) for reference in committed])
    expected = {thread_id(ticket) for ticket in tickets}
    give_up = time.monotonic() + 15  # emails go after the pages; a lost one never comes
    while not set(deployment.emails()) >= expected and time.monotonic() < give_up:
        time.sleep(0.2)
    time.sleep(0.5)  # duplicates, if any, are late by nature
    first: dict[str, list[float]] = {}
    for post in answered:
        if post.reference in committed:
            first.setdefault(post.reference, []).append(post.received_at)
    latencies = [(min(times) - committed[reference]) * 1000 for reference, times in first.items()]
    sent = deployment.emails()
    figures = stats(latencies) if latencies else dict.fromkeys(("p50", "p99", "max"), float("nan"))
    return {
        "scenario": name,
        "tickets": len(committed),
        "paged": len(first),
        "missing": len(set(committed) - set(first)),
        "duplicated": sum(len(times) > 1 for times in first.values()),
        "p50": figures["p50"],
        "p99": figures["p99"],
        "max": figures["max"],
        "emails": len(expected),
        "sent": sum(1 for msgid in expected if sent[msgid]),
        "lost": sum(1 for msgid in expected if not sent[msgid]),
        "emails_duplicated": sum(1 for msgid in expected if sent[msgid] > 1),
    }


def redis_fault(args, redis, stack_args, folder: Path, *, freeze: bool) -> dict:
    """Redis stopped (or frozen) for --outage seconds while S1 tickets are filed, then back; nothing is
    filed afterwards. Beat's sweep runs every --beat-every seconds throughout."""
    from tests.reliability.conftest import HoldingReceiver

    name = "Redis frozen, no later traffic" if freeze else "Redis stopped, restarted empty"
    truncate()
    receiver = HoldingReceiver().start()
    on_call_contact(receiver.url, secrets.token_hex(16))
    requester = customer("bench-scenario")
    deployment = Deployment(stack_args, folder, "frozen" if freeze else "stopped").start()
    stop_beat = threading.Event()
    beat(args.beat_every, stop_beat)
    committed: dict[str, float] = {}
    try:
        down = time.monotonic()
        redis.freeze() if freeze else redis.stop()
        for number in range(args.tickets):
            ticket, at = timed_s1(requester, f"{name} {number}")
            committed[ticket.reference] = at
            time.sleep(max(down + (number + 1) * args.outage / args.tickets - time.monotonic(), 0))
        time.sleep(max(down + args.outage - time.monotonic(), 0))
        redis.thaw() if freeze else redis.start()
        wait_for_pages(receiver, set(committed), timeout=args.deadline)
        time.sleep(0.5)  # duplicates, if any, are late by nature
        return outcome(name, receiver.answered(), committed, deployment)
    finally:
        stop_beat.set()
        deployment.stop()
        receiver.stop()


def crash_mid_page(args, redis, stack_args, folder: Path) -> dict:
    """--rounds times: every sender SIGKILLed while the receiver holds the page's POST (0.5 s), then the
    processes started again."""
    from tests.reliability.conftest import HoldingReceiver

    name = "Crash mid-page, processes restarted"
    truncate()
    requester = customer("bench-scenario")
    committed: dict[str, float] = {}
    answered: list = []
    deployment = Deployment(stack_args, folder, "crash")
    for round_number in range(args.rounds):
        receiver = HoldingReceiver(hold_first=True).start()
        on_call_contact(receiver.url, secrets.token_hex(16))
        deployment.start()
        try:
            ticket, at = timed_s1(requester, f"{name} {round_number}")
            committed[ticket.reference] = at
            receiver.wait_for(1, timeout=30)
            time.sleep(0.5)
            deployment.crash()
            receiver.release()
            deployment.start()
            wait_for_pages(receiver, {ticket.reference}, timeout=args.deadline)
            time.sleep(0.5)  # duplicates, if any, are late by nature
            answered += receiver.answered()
        finally:
            deployment.stop()
            receiver.stop()
    return outcome(name, answered, committed, deployment)


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tickets_ticket CASCADE")


def scenarios(args, redis, stack_args, folder: Path) -> bool:
    rows = [
        redis_fault(args, redis, stack_args, folder, freeze=False),
        redis_fault(args, redis, stack_args, folder, freeze=True),
        crash_mid_page(args, redis, stack_args, folder),
    ]
    code = "with the outbox process" if HAS_OUTBOX else "without an outbox process"
    print(f"\nFault scenarios, {code} ({machine()})")
    print(
        f"- {args.tickets} S1 tickets per Redis fault over {args.outage:g} s; beat's sweep every "
        f"{args.beat_every:g} s; {args.rounds} crashes"
    )
    headers = [
        "scenario",
        "S1 tickets",
        "paged",
        "missing",
        "duplicated",
        "p50 ms",
        "p99 ms",
        "max ms",
        "emails",
        "sent",
        "lost",
        "sent twice",
    ]
    print(table(headers, [list(row.values()) for row in rows]))
    return not any(row["missing"] or row["duplicated"] for row in rows)


# --- main ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    outage = commands.add_parser("redis-outage", help="Redis stopped during a burst of S1 creations")
    outage.add_argument("--tickets", type=int, default=300)
    outage.add_argument("--threads", type=int, default=8, help="clients, half API and half portal")
    outage.add_argument("--beat-every", type=float, default=60.0, help="seconds between sweeps (beat)")
    outage.add_argument("--deadline", type=float, default=180.0, help="seconds to wait for the last page")
    outage.add_argument(
        "--freeze", action="store_true", help="freeze Redis (SIGSTOP) instead of stopping it: nothing answers"
    )
    outage.add_argument(
        "--after-rate", type=float, default=1.0, help="S1 tickets a second once Redis is back (0: none)"
    )
    kill = commands.add_parser("worker-kill", help="the worker killed with SIGKILL mid-delivery")
    kill.add_argument("--rounds", type=int, default=10)
    kill.add_argument("--pool", choices=["solo", "prefork"], default="solo")
    every = commands.add_parser(
        "scenarios", help="every fault, with page latency from commit and emails lost"
    )
    every.add_argument("--tickets", type=int, default=30, help="S1 tickets filed during each Redis fault")
    every.add_argument("--outage", type=float, default=10.0, help="seconds Redis is stopped or frozen")
    every.add_argument("--rounds", type=int, default=5, help="crashes mid-page")
    every.add_argument("--beat-every", type=float, default=60.0, help="seconds between sweeps (beat)")
    every.add_argument("--deadline", type=float, default=150.0, help="seconds to wait for the last page")
    args = parser.parse_args()

    from tests.reliability.conftest import HoldingReceiver, RedisServer
    from tests.sla.conftest import unique_queue

    with tempfile.TemporaryDirectory() as folder:
        redis = RedisServer(log_path=Path(folder) / "redis-server.log").start()
        queue = unique_queue("bench-faults")
        receiver = None
        ok = False
        try:
            setup(redis.url, queue)
            from django.conf import settings
            from django.db import connection

            from helpdesk.celery import app
            from tests.sla.conftest import point_app_at, worker_environment

            point_app_at(
                app, redis.url, queue=queue, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
            )
            stack_args = {
                "app": app,
                "queue": queue,
                "env": worker_environment(
                    database=connection.settings_dict, redis_url=redis.url, queue=queue
                ),
                "log_path": Path(folder) / "celery-worker.log",
            }
            if args.command == "redis-outage":
                receiver = HoldingReceiver().start()
                ok = redis_outage(args, redis, receiver, stack_args)
            elif args.command == "worker-kill":
                ok = worker_kill(args, redis, HoldingReceiver, stack_args)
            else:
                ok = scenarios(args, redis, stack_args, Path(folder))
        finally:
            if receiver is not None:
                receiver.stop()
            redis.stop()
            if not ok:
                for log in sorted(Path(folder).glob("*.log")):
                    print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-5000:]}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
