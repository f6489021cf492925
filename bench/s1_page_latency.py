"""S1 page latency: from the commit of a ticket's creation to the signed webhook at the on-call receiver,
through Redis and a real Celery worker, with the outbox process beside it where the code has one (both
race for each page; the row lock lets one send). Target: p99 under 1 s (DESIGN.md: "within seconds").

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/s1_page_latency.py [--tickets 200] [--warmup 3] [--pace 0]

It works in the database `helpdesk_bench` (or BENCH_S1_DATABASE) on DATABASE_URL's server (created and
migrated if missing; its tickets are truncated first), never in DATABASE_URL's own database. It starts a
webhook receiver, a worker (prefork, 2 processes) and a pager (escalations only) on queues of their
own, makes itself a demo organization, customer and on-call webhook contact (other contacts are
deactivated), creates the S1 tickets one after another through `tickets.services.ticket_create`, and
prints count, p50, p95, p99 and max in ms, and the CPU time per page of the worker, the pager, the
outbox process and the database's backends. The workers' logs are printed if it fails. Exits 1 when a
page is missing or duplicated, or p99 misses the target.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

#: The bench's database on DATABASE_URL's server (BENCH_S1_DATABASE names another: code before and after
#: a migration must not share one).
BENCH_DATABASE = os.environ.get("BENCH_S1_DATABASE", "helpdesk_bench")
TARGET_P99_MS = 1000.0


def use_bench_database() -> None:
    """Point DATABASE_URL at the bench database on the same PostgreSQL server (created if missing)."""
    import environ
    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "")
    config = environ.Env.db_url_config(url) if url else {}
    if config.get("ENGINE") != "django.db.backends.postgresql":
        sys.exit("DATABASE_URL must point at PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/helpdesk)")
    server = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path=f"/{BENCH_DATABASE}"))
    # A deployed process: no DEBUG (it would keep every query in memory), a throwaway key.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def demo_requester():
    """The bench's customer (and organization), made on first use."""
    from django.contrib.auth import get_user_model

    from tickets.models import Membership, Organization

    organization, _ = Organization.objects.get_or_create(name="Bench Corp")
    user, created = get_user_model().objects.get_or_create(
        username="bench-customer", defaults={"email": "bench-customer@example.com"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(user=user, defaults={"organization": organization})
    return get_user_model().objects.select_related("membership").get(pk=user.pk)


def truncate_tickets() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # clocks, escalations, deliveries, events… go with them
        cursor.execute("TRUNCATE tickets_ticket CASCADE")


def on_call_contact(url: str, secret: str):
    from sla.models import ContactKind, EscalationContact

    EscalationContact.objects.update(active=False)
    contact, _ = EscalationContact.objects.update_or_create(
        name="Bench pager",
        defaults={
            "kind": ContactKind.WEBHOOK,
            "url": url,
            "secret": secret,
            "on_page": True,
            "on_at_risk": False,
            "on_breach": False,
            "timeout_seconds": 5,
            "max_attempts": 6,
            "active": True,
        },
    )
    return contact


def create_s1(requester, number: int) -> tuple[str, float]:
    """Create one S1 ticket; (its reference, the monotonic time its transaction committed)."""
    from django.db import transaction

    from tickets.models import Severity
    from tickets.services import ticket_create

    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs first after COMMIT: before the page is enqueued.
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        ticket = ticket_create(
            requester=requester,
            subject=f"Bench outage {number}",
            description="Every request fails with a 502.",
            severity=Severity.S1,
        )
    return ticket.reference, committed[0]


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


def serve_receiver(urls, pages, stop) -> None:
    """The webhook receiver, in a process of its own: the busy ticket loop here must not hold the GIL
    while a page arrives (CLOCK_MONOTONIC is system-wide, so its timestamps compare with ours)."""
    from tests.sla.conftest import WebhookReceiver

    def forward(request) -> None:
        pages.put((request.json()["ticket"]["reference"], request.received_at))

    receiver = WebhookReceiver(on_request=forward).start()
    urls.put(receiver.url)
    stop.wait()
    receiver.stop()


def collect(pages, count: int, *, timeout: float) -> list[tuple[str, float]]:
    """`count` pages from the receiver, or fewer if `timeout` seconds pass first."""
    received = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        try:
            received.append(pages.get(timeout=max(deadline - time.monotonic(), 0.001)))
        except queue.Empty:
            break
    return received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=3, help="tickets created first and not measured")
    parser.add_argument("--deadline", type=float, default=60, help="seconds to wait for the last page")
    parser.add_argument(
        "--pace", type=float, default=0, help="seconds between two creations (default: back to back)"
    )
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL must point at Redis (e.g. redis://127.0.0.1:6379/0)")

    use_bench_database()
    setup_django()

    from django.conf import settings
    from django.db import connection

    from bench._stack import HAS_OUTBOX, OutboxProcess
    from helpdesk.celery import app
    from tests.sla.conftest import (
        REDIS_TRANSPORT_OPTIONS,
        CeleryWorker,
        escalation_queue,
        point_app_at,
        unique_queue,
        worker_environment,
    )

    truncate_tickets()
    requester = demo_requester()
    spawn = multiprocessing.get_context("spawn")  # no inherited database connection
    urls, pages, stop = spawn.Queue(), spawn.Queue(), spawn.Event()
    receiver = spawn.Process(target=serve_receiver, args=(urls, pages, stop), daemon=True)
    receiver.start()
    on_call_contact(urls.get(timeout=30), secrets.token_hex(16))
    queue_name = unique_queue("bench-s1")
    point_app_at(app, settings.REDIS_URL, queue=queue_name, transport_options=REDIS_TRANSPORT_OPTIONS)
    env = worker_environment(
        database=connection.settings_dict, redis_url=settings.REDIS_URL, queue=queue_name
    )
    with tempfile.TemporaryDirectory() as folder:
        # As in production (runstack, docker compose): a worker for everything, and a pager that takes
        # escalations only, so pages do not queue behind the "ticket received" emails.
        worker = CeleryWorker(
            app=app,
            queue=queue_name,
            env=env,
            log_path=Path(folder) / "celery-worker.log",
            pool="prefork",
            concurrency=2,
        )
        pager = CeleryWorker(
            app=app,
            queue=queue_name,
            env=env,
            log_path=Path(folder) / "celery-pager.log",
            pool="prefork",
            concurrency=1,
            consume=[escalation_queue(queue_name)],
            name=f"pager-{queue_name}",
        )
        outbox = OutboxProcess(env, Path(folder) / "outbox.log") if HAS_OUTBOX else None
        ok = False
        try:
            worker.start()
            pager.start()
            if outbox is not None:
                outbox.start()
            processes = {"worker": worker.process.pid, "pager": pager.process.pid}
            if outbox is not None:
                processes["outbox"] = outbox.process.pid
            ok = run(args, requester, pages, worker, processes)
        finally:
            if outbox is not None:
                outbox.stop()
            pager.stop()
            worker.stop()
            worker.purge()
            stop.set()
            receiver.join(timeout=10)
            if not ok:
                print(f"--- Celery worker log ---\n{worker.log()}", file=sys.stderr)
    return 0 if ok else 1


def run(args, requester, pages, worker, processes: dict[str, int]) -> bool:
    from bench._stack import CpuMeter

    meter = CpuMeter(None, BENCH_DATABASE)
    for name, pid in processes.items():
        meter.watch(name, pid)
    for number in range(args.warmup):
        create_s1(requester, -number - 1)
    warmup = collect(pages, args.warmup, timeout=args.deadline)
    worker.wait_idle()
    if len(warmup) != args.warmup:
        print(f"warm-up: {len(warmup)} of {args.warmup} pages arrived", file=sys.stderr)
        return False

    committed_at: dict[str, float] = {}
    cpu_before = meter.snapshot()
    started = time.monotonic()
    for number in range(args.tickets):
        reference, committed = create_s1(requester, number)
        committed_at[reference] = committed
        if args.pace:
            time.sleep(args.pace)
    created_in = time.monotonic() - started
    arrived = collect(pages, args.tickets, timeout=args.deadline)
    worker.wait_idle()
    arrived += collect(pages, 1_000_000, timeout=0.5)  # duplicates, if any, are late by nature
    cpu = CpuMeter.per_request(cpu_before, meter.snapshot(), args.tickets)

    received: dict[str, list[float]] = {}
    for reference, received_at in arrived:
        received.setdefault(reference, []).append(received_at)
    latencies = [(received[ref][0] - committed_at[ref]) * 1000 for ref in committed_at if ref in received]
    missing = sorted(set(committed_at) - set(received))
    duplicated = sorted(ref for ref, times in received.items() if len(times) > 1)
    stats = percentiles(latencies) if len(latencies) > 1 else {}

    print(
        f"S1 page latency, commit → webhook received ({args.tickets} tickets created in {created_in:.1f} s)"
    )
    print(f"  count {len(latencies)}  missing {len(missing)}  duplicated {len(duplicated)}")
    print("  " + "  ".join(f"{name} {value:.1f} ms" for name, value in stats.items()))
    shares = "  ".join(f"{name} {value:.1f}" for name, value in cpu.items() if name != "app")
    print(f"  CPU ms per page: {shares}")
    met = bool(stats) and stats["p99"] < TARGET_P99_MS
    print(f"  target p99 < {TARGET_P99_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return met and not missing and not duplicated


if __name__ == "__main__":
    sys.exit(main())
