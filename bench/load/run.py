"""The load suite: the production-like stack on loopback under a bounded mixed load (locust), then a report.

    .venv/bin/python -m bench.load.run --tickets 10000 --duration 120 --users 30
        [--spawn-rate 3] [--think 0.5 2] [--workers 4 --threads 1] [--celery-concurrency 2]
        [--database helpdesk_load_10k] [--drain-timeout 120] [--keep-created] [--drop] [--prepare-only]

Needs PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432), Redis (REDIS_URL,
default redis://127.0.0.1:6379/0) and locust (`.venv/bin/pip install -r requirements-load.txt`). In order:

1. The database `helpdesk_load_<size>` (e.g. helpdesk_load_10k): created and migrated when missing,
   seeded to `--tickets` with `seed_demo` and `seed_demo --tickets`, SLA clocks added in bulk, the SLA
   state settled to now (bench/_stack.py); reused as it is by the next run. `--prepare-only` stops here.
2. gunicorn, a Celery worker (prefork, both queues: `helpdesk-load-<size>` and its `.escalations`) and
   Celery beat (the SLA sweep every minute), with a deployed site's environment: DEBUG off, a random
   SECRET_KEY, the real Redis broker and cache, HTTPS redirect and secure cookies off (plain HTTP on
   127.0.0.1), API throttles far above the load. Attachments go to a folder of the run.
3. An API token for agent1 (`POST /api/v1/auth/token/`); the users sign in through the login forms.
4. locust, headless, for `--duration` seconds with `--users` users (bench/load/locustfile.py: customers,
   agents and integrations by weight), CSV files in var/load/<database>-<time>/.
5. The Celery queues are watched until they drain (`--drain-timeout`), then everything is stopped —
   also on Ctrl-C, SIGTERM or an error.
6. The report: per kind of request the count, requests/s, p50/p95/p99/max and failures; the totals;
   the tickets and replies made; Celery's tasks and its backlog; load averages; CPU by process group.
   The tickets the run created are then deleted (unless `--keep-created`), so the size stays as seeded.

The exit status is 1 when a request failed or the queues did not drain.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import _stack

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOCUST = Path(sys.executable).with_name("locust")
RUNS = _stack.BASE_DIR / "var" / "load"
#: The demo logins the README publishes (seed_demo).
CUSTOMER_PASSWORD = "demo-customer-2026"  # noqa: S105
AGENT_PASSWORD = "demo-agent-2026"  # noqa: S105
AGENTS = ["agent1", "agent2"]
#: The user classes' weights in the locustfile (for the report).
WEIGHTS = {"Customer": 6, "Agent": 2, "Integration": 1}
TASK_LINE = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([\d.]+)s")


def size_label(tickets: int) -> str:
    if tickets % 1_000_000 == 0:
        return f"{tickets // 1_000_000}m"
    return f"{tickets // 1000}k" if tickets % 1000 == 0 else str(tickets)


def main() -> int:
    args = parse_args()
    if not LOCUST.exists():
        sys.exit(f"locust is not installed: {sys.executable} -m pip install -r requirements-load.txt")
    # Ctrl-C and SIGTERM unwind: every `with` below stops what it started. SIGINT gets Python's handler
    # even when the shell started this in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    label = size_label(args.tickets)
    database = args.database or f"helpdesk_load_{label}"
    queue = f"helpdesk-load-{label}"
    run_dir = RUNS / f"{database}-{datetime.now(UTC):%Y%m%d-%H%M%S}"

    _stack.use_database(database, queue=queue)
    seeded = _stack.seed(args.tickets)
    settled = _stack.settle_sla()
    _stack.vacuum()
    _stack.purge_queue(queue)
    print(f"seeded: {seeded}; SLA settled: {settled}", flush=True)
    if args.prepare_only:
        return 0
    run_dir.mkdir(parents=True)

    from django.contrib.auth import get_user_model

    from tickets.models import Message, Ticket

    customers = list(
        get_user_model()
        .objects.filter(membership__isnull=False, is_active=True)
        .order_by("pk")
        .values_list("pk", "username")
    )
    first_ticket = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    last_message = Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    attachments = run_dir / "attachments"
    os.environ["ATTACHMENTS_ROOT"] = str(attachments)
    try:
        result = run_stack(args, database, queue, run_dir, customers)
        result.update(created(first_ticket, last_message))
    finally:
        if not args.keep_created:
            Ticket.objects.filter(pk__gte=first_ticket).delete()
        shutil.rmtree(attachments, ignore_errors=True)
    result.update(
        database=database,
        tickets=Ticket.objects.filter(pk__lt=first_ticket).count(),
        seeded=seeded,
        settled=settled,
        run_dir=str(run_dir),
    )
    text = report(args, result)
    print(f"\n{text}")
    (run_dir / "report.md").write_text(text + "\n")
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    if args.drop:
        _stack.drop_database(database)
        print(f"dropped {database}")
    return 0 if result["totals"]["failures"] == 0 and result["drained"] else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000, help="Tickets in the database (seeded).")
    parser.add_argument("--duration", type=int, default=120, help="Seconds of load.")
    parser.add_argument("--users", type=int, default=30, help="Concurrent locust users.")
    parser.add_argument("--spawn-rate", type=float, default=3.0, help="Users started per second.")
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(0.5, 2.0),
        metavar=("MIN", "MAX"),
        help="Seconds between tasks.",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=1, help="Threads per gunicorn worker (1: sync).")
    parser.add_argument("--celery-concurrency", type=int, default=2, help="Celery worker processes.")
    parser.add_argument("--database", help="Default: helpdesk_load_<size>, e.g. helpdesk_load_10k.")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="Seconds to wait for Celery.")
    parser.add_argument("--keep-created", action="store_true", help="Keep the tickets the run created.")
    parser.add_argument("--drop", action="store_true", help="Drop the database at the end.")
    parser.add_argument(
        "--prepare-only", action="store_true", help="Create, migrate and seed the database; run no load."
    )
    args = parser.parse_args()
    if args.database and not args.database.startswith("helpdesk_load"):
        parser.error("--database must start with helpdesk_load (it may be dropped and is written to)")
    return args


def run_stack(args, database: str, queue: str, run_dir: Path, customers: list[tuple[int, str]]) -> dict:
    """Start gunicorn, the Celery worker and beat; run locust; wait for Celery to drain; stop them all."""
    from helpdesk.celery import app
    from tests.sla.conftest import CeleryWorker

    result: dict = {}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            _stack.Gunicorn(workers=args.workers, threads=args.threads, log=run_dir / "gunicorn.log")
        )
        result["server"] = server.describe
        worker = CeleryWorker(
            app=app,
            queue=queue,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            log_path=run_dir / "celery-worker.log",
            pool="prefork",
            concurrency=args.celery_concurrency,
            name=f"worker-{queue}",
        )
        stack.callback(worker.purge)
        stack.callback(worker.stop)
        worker.start()
        beat = stack.enter_context(_stack.CeleryBeat(log=run_dir / "celery-beat.log"))
        meter = _stack.CpuMeter(server, database)
        meter.watch("celery worker", worker.process.pid)
        meter.watch("celery beat", beat.process.pid)
        token = api_token(server.port)
        env = {
            **os.environ,
            "LOAD_CUSTOMERS": ",".join(username for _, username in customers),
            "LOAD_CUSTOMER_PASSWORD": CUSTOMER_PASSWORD,
            "LOAD_AGENTS": ",".join(AGENTS),
            "LOAD_AGENT_PASSWORD": AGENT_PASSWORD,
            "LOAD_API_TOKEN": token,
            "LOAD_REQUESTERS": ",".join(str(pk) for pk, _ in customers),
            "LOAD_THINK": f"{args.think[0]},{args.think[1]}",
        }
        print(
            f"{server.describe} on 127.0.0.1:{server.port}, Celery worker (prefork "
            f"{args.celery_concurrency}) and beat up; locust: {args.users} users for {args.duration} s; "
            f"{_stack.machine()}",
            flush=True,
        )
        result["load_before"] = os.getloadavg()
        cpu_before = meter.snapshot()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        watched = run_locust(args, server.port, env, run_dir, worker)
        for name, process in (
            ("gunicorn", server.process),
            ("Celery worker", worker.process),
            ("beat", beat.process),
        ):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} during the load; see {run_dir}")
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = _stack.CpuMeter.spent(cpu_before, meter.snapshot())
        cpu["locust"] = (children_after.ru_utime + children_after.ru_stime) - (
            children_before.ru_utime + children_before.ru_stime
        )
        result.update(watched, cpu=cpu, load_after=os.getloadavg())
        result["drained"], result["drain_seconds"] = wait_drained(worker, args.drain_timeout)
    # Everything is stopped here: the logs are complete.
    result["requests"], result["totals"] = read_stats(run_dir / "locust_stats.csv")
    result["failures"] = read_failures(run_dir / "locust_failures.csv")
    result["tasks"] = celery_tasks(run_dir / "celery-worker.log")
    result["server_errors"] = server_errors(run_dir / "gunicorn.log")
    return result


def api_token(port: int) -> str:
    status, body = _stack.request(
        "POST",
        "/api/v1/auth/token/",
        port=port,
        body=json.dumps({"username": AGENTS[0], "password": AGENT_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    if status != 200:
        raise RuntimeError(f"token request answered {status}: {body[:300]!r}")
    return json.loads(body)["token"]


def run_locust(args, port: int, env: dict, run_dir: Path, worker) -> dict:
    """locust, headless, for the duration; the Celery backlog and the load average sampled every 2 s."""
    command = [
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        f"http://{_stack.HOST}:{port}",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{args.duration}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(run_dir / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    backlog, loads = [], []
    with (run_dir / "locust.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=_stack.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            give_up = time.monotonic() + args.duration + 120
            while True:
                try:
                    process.wait(timeout=2)
                    break
                except subprocess.TimeoutExpired:
                    backlog.append(worker.queued())
                    loads.append(os.getloadavg()[0])
                if time.monotonic() > give_up:
                    raise RuntimeError(f"locust still running {args.duration + 120} s after it started")
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    if process.returncode != 0:
        raise RuntimeError(
            f"locust exited with {process.returncode}:\n{(run_dir / 'locust.log').read_text()}"
        )
    return {
        "backlog_max": max(backlog, default=0),
        "load_mean": sum(loads) / len(loads) if loads else float("nan"),
        "load_max": max(loads, default=float("nan")),
    }


def wait_drained(worker, timeout: float) -> tuple[bool, float]:
    """Until the queues are empty and the worker has nothing in hand (seen twice in a row), or `timeout`,
    or the worker is gone (its inspect would then wait for a reply that never comes). Returns (drained,
    seconds)."""
    started = time.monotonic()
    idle_in_a_row = 0
    while idle_in_a_row < 2:
        if time.monotonic() - started > timeout or worker.process.poll() is not None:
            return False, time.monotonic() - started
        idle_in_a_row = 0 if worker.busy() else idle_in_a_row + 1
        if idle_in_a_row < 2:
            time.sleep(0.2)
    return True, time.monotonic() - started


def created(first_ticket: int, last_message: int) -> dict:
    """What the run wrote: tickets by channel, their attachments, messages by author role."""
    from django.db.models import Count

    from tickets.models import Attachment, Message, Ticket

    tickets = Ticket.objects.filter(pk__gte=first_ticket)
    by_channel = dict(tickets.values_list("channel").annotate(n=Count("pk")).order_by())
    messages = Message.objects.filter(pk__gt=last_message)
    by_role = dict(messages.values_list("author_role").annotate(n=Count("pk")).order_by())
    return {
        "created_tickets": by_channel,
        "created_attachments": Attachment.objects.filter(ticket__in=tickets).count(),
        "created_messages": by_role,
    }


def read_stats(path: Path) -> tuple[list[dict], dict]:
    """locust's per-request-name statistics (and the aggregated row) from its CSV."""

    def number(value: str) -> float:
        return float(value) if value not in ("", "N/A") else float("nan")

    rows = []
    for row in csv.DictReader(path.open()):
        rows.append(
            {
                "name": row["Name"],
                "method": row["Type"],
                "n": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rate": number(row["Requests/s"]),
                "p50": number(row["50%"]),
                "p95": number(row["95%"]),
                "p99": number(row["99%"]),
                "max": number(row["Max Response Time"]),
                "mean": number(row["Average Response Time"]),
            }
        )
    totals = next(row for row in rows if row["name"] == "Aggregated")
    return [row for row in rows if row is not totals], totals


def read_failures(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [
        {"request": f"{row['Method']} {row['Name']}", "error": row["Error"], "n": int(row["Occurrences"])}
        for row in csv.DictReader(path.open())
    ]


def celery_tasks(log: Path) -> dict[str, dict]:
    """Tasks the worker finished, by name: how many, and the longest (from its INFO log)."""
    tasks: dict[str, dict] = {}
    for name, seconds in TASK_LINE.findall(log.read_text(errors="replace")):
        entry = tasks.setdefault(name, {"n": 0, "max_s": 0.0})
        entry["n"] += 1
        entry["max_s"] = max(entry["max_s"], float(seconds))
    return tasks


def server_errors(log: Path) -> list[str]:
    """The first lines of tracebacks in gunicorn's log (a 500 logs one)."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if line.startswith(("Traceback", "ERROR", "[ERROR]"))][:5]


def users_by_class(users: int) -> dict[str, int]:
    """How locust splits `users` over the classes by weight (largest remainders)."""
    total = sum(WEIGHTS.values())
    exact = {name: users * weight / total for name, weight in WEIGHTS.items()}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[
        : users - sum(counts.values())
    ]:
        counts[name] += 1
    return counts


def report(args, r: dict) -> str:
    split = ", ".join(f"{name} {n}" for name, n in users_by_class(args.users).items())
    weights = ":".join(str(w) for w in WEIGHTS.values())
    before, after = (" ".join(f"{v:.2f}" for v in r[key]) for key in ("load_before", "load_after"))
    lines = [
        f"Load (mixed, locust): {r['tickets']:,} tickets in {r['database']}, {args.users} users ({split}; "
        f"weights {weights}), think {args.think[0]:g}–{args.think[1]:g} s, {args.duration} s, "
        f"spawn {args.spawn_rate:g}/s",
        f"Stack: {r['server']}; Celery worker prefork {args.celery_concurrency} (both queues) + beat; "
        f"PostgreSQL and Redis on 127.0.0.1. {os.cpu_count()} cores.",
        f"Load average (1/5/15 min) before {before}, after {after}; 1-min during the run mean "
        f"{r['load_mean']:.2f}, max {r['load_max']:.2f}.",
        "",
    ]
    headers = ["request", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "failures"]
    keys = ["n", "rate", "p50", "p95", "p99", "max", "failures"]
    rows = [[row["name"], *[row[k] for k in keys]] for row in sorted(r["requests"], key=lambda x: x["name"])]
    rows.append(["**total**", *[r["totals"][k] for k in keys]])
    lines.append(_stack.table(headers, rows))
    tickets = r.get("created_tickets", {})
    messages = r.get("created_messages", {})
    lines += [
        "",
        f"Created during the run: {sum(tickets.values()):,} tickets "
        f"({', '.join(f'{k} {v}' for k, v in sorted(tickets.items())) or 'none'}), "
        f"{r.get('created_attachments', 0):,} attachments, {sum(messages.values()):,} messages "
        f"({', '.join(f'{k} {v}' for k, v in sorted(messages.items())) or 'none'}).",
        f"Celery: queue backlog at most {r['backlog_max']} during the run; "
        + (
            f"drained {r['drain_seconds']:.1f} s after the load stopped."
            if r["drained"]
            else f"**not drained** after {r['drain_seconds']:.0f} s."
        ),
        "Tasks run: "
        + (", ".join(f"{name} {t['n']} (max {t['max_s']:.2f} s)" for name, t in sorted(r["tasks"].items()))),
    ]
    requests = r["totals"]["n"]
    cpu = r["cpu"]
    lines.append(
        "CPU during the load (s; share of the machine; ms per request): "
        + ", ".join(
            f"{name} {seconds:.1f} s ({seconds / (args.duration * (os.cpu_count() or 1)):.0%}; "
            f"{seconds * 1000 / max(requests, 1):.1f})"
            for name, seconds in cpu.items()
        )
    )
    if r["failures"]:
        lines += [
            "",
            _stack.table(["failed request", "error", "n"], [list(f.values()) for f in r["failures"]]),
        ]
    if r["server_errors"]:
        lines += ["", "gunicorn log: " + " | ".join(r["server_errors"])]
    lines.append(f"\nFiles: {r['run_dir']}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: what the run started is stopped")
