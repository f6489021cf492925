"""The SLA dashboard at scale: milliseconds and SQL queries of /admin/dashboard/ over 100,000 tickets and a
year of history on PostgreSQL. Target: under 500 ms, and a fixed number of queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py

It works in the database `helpdesk_bench_dashboard` on DATABASE_URL's server (created on the `postgres`
database with psycopg if missing, and migrated), never in DATABASE_URL's own database. Seeding, done once
and reused by later runs (`--reset` starts over):

1. `manage.py seed_demo`, then `seed_demo --tickets N` up to `--tickets` tickets in all: a year of
   tickets, mostly closed, the open ones recent;
2. first-response and resolution clocks for the bulk tickets (which `seed_demo --tickets` makes without
   clocks), bulk-created in batches: due times from the shipped response-target chart and calendar,
   first responses mostly on time (about one in five late), resolutions met at `resolved_at` (late when
   past due), open tickets' clocks running, paused (pending) or breached when past due.

Then, in this process, a superuser's `django.test.Client` asks for the page with the full year and with
the default range (the last 12 weeks): a warm-up, `--requests` timed requests each (p50 / p95), the
query count and the slowest queries of one more request, and the CSV once. The process runs as a deployed
site would (DEBUG off), except that static URLs are not hashed (no collectstatic here).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DATABASE = "helpdesk_bench_dashboard"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 500.0
BATCH = 5000
#: Share of a first-response target an answer takes: uniform over this span (1.0 = the due time).
RESPONSE_SPAN = (0.05, 1.25)


# --- the database --------------------------------------------------------------------------------------


def server_connection():
    import environ
    import psycopg

    url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    config = environ.Env.db_url_config(url)
    if config.get("ENGINE") != "django.db.backends.postgresql":
        sys.exit(f"The dashboard bench needs PostgreSQL; DATABASE_URL is {url!r}.")
    return psycopg.connect(
        dbname="postgres",
        autocommit=True,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
    )


def prepare_database(reset: bool) -> str:
    """Create (or with `reset` re-create) the bench database; return its URL."""
    from psycopg import sql

    with server_connection() as admin:
        if reset:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    print(f"database {DATABASE}: {'reused' if exists else 'created'}", flush=True)
    url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    return urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}"))


def environment(database_url: str, var_dir: str) -> dict[str, str]:
    """A deployed site's settings on the bench database; runtime files (the embedded Celery broker that
    seed_demo's notifications go to) in a throwaway folder."""
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "REDIS_URL": "",
        "VAR_DIR": var_dir,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }


def manage(*args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=os.environ,
        check=True,
        stdout=subprocess.DEVNULL,
    )


# --- data ------------------------------------------------------------------------------------------------


def seed(tickets: int) -> None:
    from tickets.models import Ticket

    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    have = Ticket.objects.count()
    if have < tickets:
        print(f"seeding {tickets - have:,} tickets (seed_demo --tickets)…", flush=True)
        started = time.monotonic()
        manage("seed_demo", "--tickets", str(tickets - have))
        print(f"  {time.monotonic() - started:.0f} s", flush=True)
    else:
        print(f"{have:,} tickets already there", flush=True)
    made, seconds = add_clocks()
    if made:
        print(f"added {made:,} SLA clocks in {seconds:.0f} s", flush=True)


def add_clocks() -> tuple[int, float]:
    """First-response and resolution clocks for the tickets that have none, in batches."""
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from sla.calendars import calendar_for, response_target
    from sla.models import ClockState, Metric, TicketClock
    from tickets.models import Status, Ticket

    started = time.monotonic()
    now = timezone.now()
    rng = random.Random(20250101)
    rows = list(
        Ticket.objects.filter(~Exists(TicketClock.objects.filter(ticket=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "severity", "status", "created_at", "updated_at", "resolved_at", "closed_at")
    )
    made = 0
    for offset in range(0, len(rows), BATCH):
        clocks = []
        for pk, severity, status, created, updated, resolved, closed in rows[offset : offset + BATCH]:
            target = response_target(severity)
            if target is None:
                continue
            done = resolved or closed
            for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
                plan = target.target(metric)
                if plan is None:
                    continue
                span, kind = plan
                due = calendar_for(kind).add(created, span)
                clock = TicketClock(
                    ticket_id=pk,
                    metric=metric,
                    clock=kind,
                    target_minutes=int(span.total_seconds() // 60),
                    warn_at_percent=target.warn_at_percent,
                    started_at=created,
                    due_at=due,
                )
                if metric == Metric.FIRST_RESPONSE:
                    met = None
                    if status != Status.NEW:
                        met = created + (due - created) * rng.uniform(*RESPONSE_SPAN)
                        met = min(met, done or updated, now)
                else:
                    met = done
                if status == Status.PENDING and met is None:
                    clock.state, clock.paused_at, clock.due_at = ClockState.PAUSED, updated, None
                elif met is not None:
                    clock.met_at, clock.due_at = met, None
                    clock.state = ClockState.MET
                    if met > due:
                        clock.state, clock.breached_at = ClockState.BREACHED, due
                elif due <= now:
                    clock.state, clock.breached_at = ClockState.BREACHED, due
                clocks.append(clock)
        with transaction.atomic():
            TicketClock.objects.bulk_create(clocks, batch_size=BATCH)
        made += len(clocks)
    if made:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket; ANALYZE sla_ticketclock")
    return made, time.monotonic() - started


# --- measuring ---------------------------------------------------------------------------------------------


def superuser():
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username="bench-dashboard", defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    return user


def measure(client, label: str, params: dict, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.admin.dashboard import DashboardRangeForm, default_range

    for _ in range(2):  # warm-up: connection, templates, caches
        assert client.get("/admin/dashboard/", params).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/admin/dashboard/", params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as captured:
        client.get("/admin/dashboard/", params)
    queries = list(captured.captured_queries)  # read now: the next request clears the connection's log
    started = time.perf_counter()
    csv = client.get("/admin/dashboard/", {**params, "format": "csv"})
    csv_ms = (time.perf_counter() - started) * 1000
    assert csv.status_code == 200
    cpu = cpu_per_request(client, params, requests)
    form = DashboardRangeForm(params or {k: v.isoformat() for k, v in default_range().items()})
    assert form.is_valid()
    quantiles = statistics.quantiles(times, n=20, method="inclusive")
    return {
        "label": label,
        "range": f"{form.cleaned_data['start']} to {form.cleaned_data['end']}",
        "p50": statistics.median(times),
        "p95": quantiles[18],
        "max": max(times),
        "queries": len(queries),
        "slowest": sorted(queries, key=lambda q: -float(q["time"]))[:5],
        "csv_ms": csv_ms,
        "cpu_ms": cpu,
    }


def cpu_per_request(client, params: dict, requests: int) -> float | None:
    """Mean CPU milliseconds of one request: this process's plus its PostgreSQL backend's, with parallel
    query off so that the backend does all of the database's work. Close to the latency on an idle
    machine, whatever else runs on this one. None when the server's processes cannot be read (not local)."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    def serial(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")

    def backend_seconds() -> tuple[int, float] | None:
        pid = connection.connection.info.backend_pid
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    connection_created.connect(serial)
    try:
        connection.ensure_connection()
        serial(None, connection)
        client.get("/admin/dashboard/", params)  # warm-up
        samples = []
        for _ in range(requests):
            before, cpu_before = backend_seconds(), time.process_time()
            assert client.get("/admin/dashboard/", params).status_code == 200
            cpu_after, after = time.process_time(), backend_seconds()
            if before is None or after is None:
                return None
            if before[0] == after[0]:  # the same backend (not reconnected in between)
                samples.append((cpu_after - cpu_before + after[1] - before[1]) * 1000)
        return statistics.mean(samples) if samples else None
    finally:
        connection_created.disconnect(serial)
        with connection.cursor() as cursor:
            cursor.execute("RESET max_parallel_workers_per_gather")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets in all (default 100,000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per range (default 20)")
    parser.add_argument("--reset", action="store_true", help="drop the bench database and seed it again")
    args = parser.parse_args()

    url = prepare_database(args.reset)
    with tempfile.TemporaryDirectory(prefix="helpdesk-bench-dashboard-") as var_dir:
        os.environ.update(environment(url, var_dir))
        import django

        django.setup()
        from django.conf import settings
        from django.db.models import Max, Min
        from django.test import Client
        from django.test.utils import override_settings
        from django.utils import timezone

        from sla.models import TicketClock
        from tickets.models import Ticket

        seed(args.tickets)
        # Unhashed static URLs: the page is rendered without a collectstatic manifest.
        override_settings(
            STORAGES={
                **settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            }
        ).enable()

        client = Client()
        client.force_login(superuser())
        today = timezone.now().date()
        year = {"start": (today - timedelta(days=365)).isoformat(), "end": today.isoformat()}
        load_before = os.getloadavg()[0]
        results = [
            measure(client, "full year", year, args.requests),
            measure(client, "default (12 weeks)", {}, args.requests),
        ]

        tickets = Ticket.objects.count()
        clocks = TicketClock.objects.count()
        span = Ticket.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
        first, last = span["first"], span["last"]
        print()
        print(f"{tickets:,} tickets ({first:%Y-%m-%d} to {last:%Y-%m-%d}), {clocks:,} SLA clocks; PostgreSQL")
        print(f"{args.requests} requests per range, in-process django.test.Client as a superuser")
        print(
            f"machine: {os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after (other work on the machine slows the wall-clock figures; "
            "the CPU column depends on it far less)"
        )
        print()
        print(
            f"{'range':<22}{'days':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'queries':>9}{'CSV ms':>9}"
            f"{'CPU ms':>9}"
        )
        for r in results:
            print(
                f"{r['label']:<22}{r['range']:<26}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['max']:>9.1f}"
                f"{r['queries']:>9}{r['csv_ms']:>9.1f}"
                + (f"{r['cpu_ms']:>9.1f}" if r["cpu_ms"] is not None else f"{'n/a':>9}")
            )
        print()
        for r in results:
            print(f"slowest queries, {r['label']}:")
            for q in r["slowest"]:
                sql = " ".join(q["sql"].split())
                print(f"  {float(q['time']) * 1000:7.1f} ms  {sql[:150]}")
        missed = [r for r in results if r["p95"] >= TARGET_MS]
        print()
        print(
            f"target p95 < {TARGET_MS:.0f} ms (wall clock): "
            + ("met" if not missed else "MISSED by " + ", ".join(r["label"] for r in missed))
        )
        print(
            "CPU per request (Python + PostgreSQL backend, parallel query off; ~ the latency on an idle "
            "machine): " + ", ".join(f"{r['label']} {r['cpu_ms']:.0f} ms" for r in results if r["cpu_ms"])
        )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
