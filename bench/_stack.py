"""Helpers shared by the HTTP benchmarks (bench/api_list.py, bench/portal_my_tickets.py, bench/load/).

- `use_database(name)`: a PostgreSQL database of its own on DATABASE_URL's server (default
  postgres://postgres@127.0.0.1:5432/), created if missing (psycopg, on the `postgres` database),
  migrated with `manage.py migrate`, static files collected; the process's environment then describes a
  deployed site (DEBUG off, real Redis broker and cache, Celery tasks on a bench queue no worker reads,
  throttling rates no benchmark reaches) and Django is set up against it; `queue=` names another Celery
  queue (the load suite's, which a worker reads). `drop_database(name)`.
- `seed(n)`: the demo data plus benchmark tickets up to `n` tickets in all (`seed_demo` and
  `seed_demo --tickets`; nothing is done when they are there), then `add_clocks()`: SLA clocks in bulk
  for the open tickets that have none (`seed_demo --tickets` creates none) and `Ticket.sla_due_at` in one
  UPDATE … FROM, then VACUUM ANALYZE. `settle_sla()`: the sweeps a live site would have run over that
  history, its escalations taken as delivered. `purge_queue()` empties the bench's Celery queues.
- `OutboxProcess`: `manage.py outbox` where the code has it (`HAS_OUTBOX`).
- `Gunicorn`: the WSGI app on 127.0.0.1:<free port>, waited for on /healthz (with a deadline), stopped
  on exit. `CeleryBeat`: `celery beat` on the database's schedule, stopped on exit. `CpuMeter`: CPU time
  of gunicorn, of the database's PostgreSQL backends and of other watched processes (a Celery worker…).
- `load(...)`: an HTTP load driver (a thread and a keep-alive connection per client), closed loop or
  paced at a fixed rate.
- `stats(...)`, `table(...)`, `machine()`: percentiles and printing.
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

PYTHON = sys.executable
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
#: Celery queue the benchmarks' tasks go to: no worker consumes it; it is purged afterwards.
BENCH_QUEUE = "helpdesk-bench-http"
#: Host header of every request (ALLOWED_HOSTS); the in-process client sends "testserver".
HOST = "127.0.0.1"


# --- the database and the environment -------------------------------------------------------------


def _server_config() -> dict:
    import environ

    url = os.environ.get("BENCH_SERVER_URL") or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    config = environ.Env.db_url_config(url)
    if config.get("ENGINE") != "django.db.backends.postgresql":
        sys.exit(f"The benchmarks need PostgreSQL; DATABASE_URL is {url!r}.")
    return config


def _server_url(name: str) -> str:
    url = os.environ.get("BENCH_SERVER_URL") or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_connection():
    import psycopg

    config = _server_config()
    return psycopg.connect(
        dbname="postgres",
        autocommit=True,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
    )


def create_database(name: str) -> bool:
    """Create the database `name` on the server if it is missing; True if it was created."""
    from psycopg import sql

    with _admin_connection() as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(name: str) -> None:
    """Drop the database `name` (closing this process's connections to it first)."""
    from django.conf import settings
    from psycopg import sql

    if settings.configured:
        from django.db import connections

        connections.close_all()
    with _admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def bench_environment(database: str, *, queue: str = BENCH_QUEUE) -> dict[str, str]:
    """The environment of a deployed site on the bench database (for this process, gunicorn and Celery),
    with its Celery tasks on `queue` (and `<queue>.escalations`)."""
    # Set once per process, so the sessions made here are valid in the gunicorn workers too.
    os.environ.setdefault("BENCH_SECRET_KEY", secrets.token_urlsafe(50))
    return {
        "DATABASE_URL": _server_url(database),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        "CELERY_QUEUE": queue,
        "SECRET_KEY": os.environ["BENCH_SECRET_KEY"],
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "BEHIND_TLS_PROXY": "false",
        "ALLOWED_HOSTS": f"{HOST},testserver",
        "API_RATE_PER_TOKEN": "1000000/min",
        "API_RATE_TOKEN_REQUESTS": "1000000/min",
        "API_RATE_ANONYMOUS": "1000000/min",
        "LOG_LEVEL": "WARNING",
        # Each worker keeps its connection for the whole run (the default, 60 s, reconnects about once a
        # minute: no difference to the figures, but a backend that exits takes its CPU time with it).
        "CONN_MAX_AGE": "600",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }


def migrate(database: str) -> None:
    env = {**os.environ, **bench_environment(database)}
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )


def collect_static(database: str) -> None:
    """`collectstatic`, as the Docker image's build does: with DEBUG off the pages link hashed static
    files from the manifest in staticfiles/ (git-ignored)."""
    env = {**os.environ, **bench_environment(database)}
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )


def use_database(database: str, *, queue: str = BENCH_QUEUE) -> None:
    """Create (if missing) and migrate `database`, collect the static files, point this process at the
    database (and its Celery tasks at `queue`) and set Django up."""
    created = create_database(database)
    print(f"database {database}: {'created' if created else 'reused'}; migrating…", flush=True)
    migrate(database)
    collect_static(database)
    os.environ.update(bench_environment(database, queue=queue))
    import django

    django.setup()


# --- data -------------------------------------------------------------------------------------------


def seed(tickets: int) -> dict:
    """Demo data plus benchmark tickets, `tickets` in all; SLA clocks for the open ones. Returns counts."""
    from tickets.models import Ticket

    env = {**os.environ}
    subprocess.run(
        [PYTHON, "manage.py", "seed_demo"], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL
    )
    have = Ticket.objects.count()
    seconds = None
    if have < tickets:
        print(f"seeding {tickets - have:,} benchmark tickets…", flush=True)
        started = time.monotonic()
        subprocess.run(
            [PYTHON, "manage.py", "seed_demo", "--tickets", str(tickets - have)],
            cwd=BASE_DIR,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        seconds = time.monotonic() - started
    else:
        print(f"{have:,} tickets already there: not seeding", flush=True)
    clocks, clock_seconds = add_clocks()
    vacuum()
    return {
        "tickets": Ticket.objects.count(),
        "seed_seconds": seconds,
        "clocks_added": clocks,
        "clock_seconds": clock_seconds,
    }


def add_clocks(*, batch: int = 5000) -> tuple[int, float]:
    """SLA clocks for open tickets that have none (the bulk-seeded ones), as the services would have
    left them, and `Ticket.sla_due_at` from them in one UPDATE … FROM. Returns (clocks, seconds).

    new: first_response and resolution run from creation (breached if past due). open / on_hold: the
    first response was met (an agent answered), next_update runs from the last update, resolution from
    creation. pending: next_update and resolution are paused since the last update.
    """
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from sla.calendars import calendar_for, response_target
    from sla.models import ClockState, Metric, TicketClock
    from tickets.models import Status, Ticket

    started = time.monotonic()
    now = timezone.now()
    rng = random.Random(20260101)
    pending = (
        Ticket.objects.open()
        .filter(~Exists(TicketClock.objects.filter(ticket=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "severity", "status", "created_at", "updated_at")
    )
    rows = list(pending)
    made = 0
    for offset in range(0, len(rows), batch):
        clocks = []
        for pk, severity, status, created, updated in rows[offset : offset + batch]:
            target = response_target(severity)
            if target is None:
                continue
            for metric in Metric.values:
                plan = target.target(metric)
                if plan is None:
                    continue
                span, kind = plan
                clock = TicketClock(
                    ticket_id=pk,
                    metric=metric,
                    clock=kind,
                    target_minutes=int(span.total_seconds() // 60),
                    warn_at_percent=target.warn_at_percent,
                    started_at=created,
                )
                if metric == Metric.FIRST_RESPONSE and status != Status.NEW:
                    clock.state = ClockState.MET
                    clock.met_at = created + (updated - created) * rng.uniform(0.05, 0.5)
                    clock.due_at = calendar_for(kind).add(created, span)
                    if clock.met_at > clock.due_at:
                        clock.state, clock.breached_at = ClockState.BREACHED, clock.due_at
                elif metric == Metric.NEXT_UPDATE:
                    if status == Status.NEW:
                        continue  # starts with the first agent reply
                    clock.started_at = updated
                    clock.cycle = 1
                    _run(clock, calendar_for(kind), span, status, updated, now)
                else:
                    _run(clock, calendar_for(kind), span, status, updated, now)
                clocks.append(clock)
        with transaction.atomic():
            TicketClock.objects.bulk_create(clocks, batch_size=batch)
        made += len(clocks)
    clock_table = TicketClock._meta.db_table
    ticket_table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ticket_table} AS t SET sla_due_at = c.due
            FROM (
                SELECT ticket_id, MIN(due_at) AS due FROM {clock_table}
                WHERE met_at IS NULL AND paused_at IS NULL AND due_at IS NOT NULL
                GROUP BY ticket_id
            ) AS c
            WHERE t.id = c.ticket_id AND t.sla_due_at IS DISTINCT FROM c.due
            """  # noqa: S608 - table names from the models
        )
    return made, time.monotonic() - started


def vacuum() -> None:
    """VACUUM ANALYZE the database: fresh planner statistics and visibility maps after bulk writes (and
    the deletes of earlier runs), as autovacuum would leave a live site."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _run(clock, calendar, span: timedelta, status: str, updated: datetime, now: datetime) -> None:
    """A clock that runs from its start, or stands paused since the last update (pending tickets)."""
    from sla.models import ClockState
    from tickets.models import Status

    if status == Status.PENDING:
        clock.state, clock.paused_at = ClockState.PAUSED, updated
        return
    clock.due_at = calendar.add(clock.started_at, span)
    clock.at_risk_at = calendar.add(clock.started_at, span * clock.warn_at_percent / 100)
    if clock.due_at <= now:
        clock.state, clock.breached_at = ClockState.BREACHED, clock.due_at


def settle_sla() -> dict[str, int]:
    """Bring the seeded history's SLA state up to now, as the minute-by-minute sweeps of a live site would
    have: one sweep (clocks past due breached, past their warn-at share warned, S1 pages recorded), then
    every escalation not yet completed is marked completed, because that history's notifications went out
    when it happened. Without it the first sweep of a run would mark tens of thousands of clocks at once
    and hand their escalations to the worker 500 a minute. The tasks the sweep enqueued are left for
    `purge_queue`; a completed escalation's task does nothing anyway."""
    from django.utils import timezone

    from sla.models import Escalation
    from sla.sweep import sweep

    now = timezone.now()
    result = sweep(now)
    completed = Escalation.objects.filter(completed_at__isnull=True).update(enqueued_at=now, completed_at=now)
    return {
        "breached": result.breached,
        "at_risk": result.at_risk,
        "pages": result.pages,
        "escalations_completed": completed,
    }


def purge_queue(queue: str = BENCH_QUEUE) -> int:
    """Drop the messages published to the Celery queue `queue` and its `<queue>.escalations`; returns
    how many there were."""
    import redis

    client = redis.Redis.from_url(os.environ.get("REDIS_URL", DEFAULT_REDIS))
    try:
        count = 0
        mine = (queue.encode(), f"{queue}\x06".encode(), f"{queue}.escalations".encode())
        for key in client.scan_iter(match=f"{queue}*"):
            # The queue, its priority lists (`<queue>\x06\x16<n>`) and its escalations; not another
            # queue whose name merely starts with this one (helpdesk-load-10k / helpdesk-load-100k).
            if key != mine[0] and not key.startswith(mine[1:]):
                continue
            if client.type(key) == b"list":
                count += client.llen(key)
                client.delete(key)
        return count
    finally:
        client.close()


# --- the outbox process ------------------------------------------------------------------------------

#: Whether this code has the outbox process (issue 12); the benchmarks run on the code before it too.
HAS_OUTBOX = (BASE_DIR / "helpdesk" / "management" / "commands" / "outbox.py").exists()


class OutboxProcess:
    """`manage.py outbox` (where the code has it: HAS_OUTBOX) as a subprocess with the environment `env`,
    ready once it says it runs (after it LISTENs); `kill()` is SIGKILL, `stop()` SIGTERM."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.process = None

    def start(self, *, timeout: float = 60) -> OutboxProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "outbox"], cwd=BASE_DIR, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while b"Outbox delivering" not in self.log_path.read_bytes()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the outbox did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# --- gunicorn ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn helpdesk.wsgi:application` on a free port, with this process's bench environment."""

    def __init__(
        self, *, workers: int = 4, threads: int = 1, deadline: float = 60.0, log: Path | None = None
    ):
        self.workers, self.threads, self.deadline = workers, threads, deadline
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = log or Path(tempfile.gettempdir()) / f"bench-gunicorn-{self.port}.log"

    @property
    def describe(self) -> str:
        kind = "sync" if self.threads == 1 else "gthread"
        return f"gunicorn -w {self.workers} --threads {self.threads} ({kind} workers)"

    def __enter__(self) -> Gunicorn:
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            "helpdesk.wsgi:application",
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--backlog",
            "256",
            "--log-level",
            "warning",
        ]
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=dict(os.environ), stdout=self._log_file, stderr=subprocess.STDOUT
        )
        give_up = time.monotonic() + self.deadline
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                status, _ = request("GET", "/healthz", port=self.port, timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > give_up:
                self.__exit__(None, None, None)
                raise RuntimeError(
                    f"gunicorn not healthy within {self.deadline:.0f} s:\n{self.log.read_text()}"
                )
            time.sleep(0.2)
        # Every worker answers once (imports, database connection) before anything is measured.
        warm = load(
            lambda i, c: ("GET", "/healthz", None, {}), port=self.port, clients=self.workers * 2, total=50
        )
        if warm.errors:
            raise RuntimeError(f"health checks failed while warming up: {warm.errors[:3]}")
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


class CeleryBeat:
    """`celery beat` with the database's schedule (django-celery-beat: the SLA sweep every minute…),
    publishing to this process's environment's queue; waited for (with a deadline), stopped on exit."""

    def __init__(self, *, log: Path, deadline: float = 30.0):
        self.log, self.deadline = log, deadline
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> CeleryBeat:
        command = [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "helpdesk",
            "beat",
            "--loglevel=INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
        ]
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=dict(os.environ), stdout=self._log_file, stderr=subprocess.STDOUT
        )
        give_up = time.monotonic() + self.deadline
        while b"beat: Starting" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > give_up:
                self.__exit__(None, None, None)
                raise RuntimeError(f"celery beat did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


# --- HTTP -------------------------------------------------------------------------------------------


def request(method: str, path: str, *, port: int, body=None, headers=None, timeout: float = 30):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


#: A request: (method, path, body bytes or None, headers). `make(i, client)` builds the i-th, sent by
#: client number `client` (0 … clients - 1; each client keeps its own connection, and may be its own user).
Request = tuple[str, str, bytes | None, dict]


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def load(
    make: Callable[[int, int], Request],
    *,
    port: int,
    clients: int,
    total: int,
    expect: Iterable[int] = (200,),
    timeout: float = 30,
    rate: float = 0.0,
) -> LoadResult:
    """Send `total` requests from `clients` threads, each on its own keep-alive connection, as fast as
    answers come (closed loop, no think time), or with `rate` at that many requests per second in all
    (each client every clients/rate seconds, staggered; one that falls behind sends at once). Latency is
    from sending the request to reading the whole response. gunicorn's sync workers close the connection
    after each response; http.client then reconnects, and that connect is part of the latency."""
    expect = set(expect)
    counter = iter(range(total))
    lock = threading.Lock()
    result = LoadResult(clients=clients, seconds=0.0)
    start_gate = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        latencies, errors, statuses = [], [], {}
        interval = clients / rate if rate else 0.0
        start_gate.wait()
        due = time.perf_counter() + interval * number / clients
        while True:
            if interval:
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                else:
                    due -= wait  # behind: the schedule restarts from now, with no burst to catch up
                due += interval
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, path, body, headers = make(i, number)
            began = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers={"Host": HOST, **headers})
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{method} {path}: {exc!r}")
                connection.close()
                continue
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.status not in expect:
                errors.append(f"{method} {path}: {response.status} {payload[:300]!r}")
        connection.close()
        with lock:
            result.latencies_ms.extend(latencies)
            result.errors.extend(errors)
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


# --- figures ----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def stats(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50": percentile(latencies_ms, 50),
        "p95": percentile(latencies_ms, 95),
        "p99": percentile(latencies_ms, 99),
        "max": max(latencies_ms) if latencies_ms else float("nan"),
        "mean": statistics.fmean(latencies_ms) if latencies_ms else float("nan"),
    }


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (so the output can be pasted into docs/performance.md)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by the gunicorn server (master and workers) and by the PostgreSQL backends of
    the bench database: what a request costs, whatever else the machine is running meanwhile. `watch`
    adds another process and its children under a name of its own (a Celery worker, beat)."""

    def __init__(self, server: Gunicorn | None, database: str):
        self.masters = {server.process.pid: "app"} if server is not None else {}
        self.database = database

    def watch(self, name: str, pid: int) -> None:
        """Count the process `pid` and its children as `name`."""
        self.masters[pid] = name

    def _processes(self) -> list[tuple[str, int]]:
        found = [(name, pid) for pid, name in self.masters.items()]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if parent in self.masters:
                found.append((self.masters[parent], int(entry.name)))
            elif command.startswith("postgres: ") and f" {self.database} " in command:
                found.append(("db", int(entry.name)))
        return found

    def snapshot(self) -> dict[tuple[str, int], float]:
        return {(name, pid): _cpu_seconds(pid) for name, pid in self._processes()}

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds of each name (app, db and the watched ones) between two snapshots."""
        seconds = {"app": 0.0, "db": 0.0}
        for key, value in after.items():
            seconds[key[0]] = seconds.get(key[0], 0.0) + value - before.get(key, 0.0)
        return seconds

    @classmethod
    def per_request(cls, before: dict, after: dict, requests: int) -> dict[str, float]:
        """CPU milliseconds per request of each name (the app, the database…) between two snapshots."""
        return {name: value * 1000 / max(requests, 1) for name, value in cls.spent(before, after).items()}


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {loadavg()} (1/5/15 min), Python {sys.version.split()[0]}"
