"""The REST API's ticket list (25 a page) as an agent, at 1,000 and 100,000 tickets, and ticket creation.

    .venv/bin/python bench/api_list.py [--sizes 1000 100000] [--clients 16] [--http-requests 2000]
        [--repeat 3] [--paced-rate 25] [--creates 2000] [--create-repeat 2] [--create-sizes 100000]
        [--workers 4 --threads 1] [--db-suffix ""] [--drop]

Needs PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432) and Redis
(REDIS_URL, default redis://127.0.0.1:6379/0). Each size runs in a child process on a database of its own,
`helpdesk_bench_api_1k` / `helpdesk_bench_api_100k` (created, migrated and seeded with `seed_demo` and
`seed_demo --tickets` when missing, reused otherwise; SLA clocks are added in bulk for the open tickets).
`--drop` drops the databases at the end; `--db-suffix` uses another set (e.g. to compare code). The token
comes from POST /api/v1/auth/token/ as `agent1`. Per size it prints:

1. SQL queries per list request, in process (django.test.Client + CaptureQueriesContext), for each kind
   of request in the mix, with every total counted and then with large totals reused from the cache.
   Target: at most 10, and the same at every size.
2. Latency in process: the mix sent one after another (~200 requests, after a warm-up), and by kind.
3. Latency, requests/s and CPU ms per request (gunicorn; the bench database's PostgreSQL backends)
   through gunicorn with 16 concurrent clients, closed loop, `--repeat` runs. Target: p95 < 50 ms.
   Then /healthz with the same clients (the stack's floor) and the mix paced at `--paced-rate`/s.
4. Ticket creation through gunicorn (at `--create-sizes`, default the largest): POST /api/v1/tickets/ as
   the agent, with a requester, the intake and the interview context, 16 clients. Every create keeps its
   SLA clocks and enqueues its acknowledgement email (and S1 tickets their page) on commit to real
   Redis, on queues of their own that no worker reads; they are counted and purged afterwards, and the
   tickets created are deleted so the size stays as seeded. Target: at least 150 creates/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _stack

TARGET_QUERIES = 10
TARGET_P95_MS = 50.0
TARGET_CREATES_PER_SECOND = 150.0
LIST = "/api/v1/tickets/"


def database_name(size: int, suffix: str = "") -> str:
    label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
    return f"helpdesk_bench_api_{label}{suffix}"


# --- the request mix ------------------------------------------------------------------------------------


def request_kinds(total: int, *, organization_id: int, now) -> dict[str, dict]:
    """Query strings of the list requests in the mix, by kind. Pages go as deep as the data allows."""
    due = (now + timedelta(days=1)).isoformat()
    after = (now - timedelta(days=30)).isoformat()
    last_page = max(1, total // 25)
    return {
        "first page (queue order)": {},
        "page 2": {"page": 2},
        "middle page": {"page": last_page // 2},
        "deep page": {"page": max(1, last_page - 3)},
        "status=open,new": {"status": ["open", "new"]},
        "severity=S1,S2": {"severity": ["S1", "S2"]},
        "ordering=-created_at": {"ordering": "-created_at"},
        "ordering=-updated_at": {"ordering": "-updated_at"},
        "ordering=sla_due_at": {"ordering": "sla_due_at"},
        "due_before=+1d": {"due_before": due},
        "assignee=none": {"assignee": "none"},
        "assignee=me, open": {"assignee": "me", "status": "open"},
        "organization": {"organization": organization_id},
        "created_after=-30d": {"created_after": after},
        "sla_state=breached": {"sla_state": "breached"},
        "page_size=100": {"page_size": 100},
    }


def url(params: dict) -> str:
    return f"{LIST}?{urlencode(params, doseq=True)}" if params else LIST


def mix(kinds: dict[str, dict], count: int, seed: int) -> list[tuple[str, str]]:
    """`count` (kind, url) pairs: every kind in turn, in a shuffled order."""
    names = list(kinds)
    rng = random.Random(seed)
    picks = [names[i % len(names)] for i in range(count)]
    rng.shuffle(picks)
    return [(name, url(kinds[name])) for name in picks]


# --- one size (a child process) -------------------------------------------------------------------------


def run_size(args) -> dict:
    _stack.use_database(database_name(args.size, args.db_suffix))
    seeded = _stack.seed(args.size)
    from django.test import Client
    from django.utils import timezone

    from tickets.models import Organization, Ticket

    total = Ticket.objects.count()
    print(f"{total:,} tickets ({seeded['clocks_added']:,} clocks added); {_stack.machine()}", flush=True)

    client = Client()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "agent1", "password": "demo-agent-2026"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    organization = Organization.objects.order_by("pk").first()
    kinds = request_kinds(total, organization_id=organization.pk, now=timezone.now())
    result: dict = {"size": args.size, "tickets": total, "seed": seeded, "load_before": _stack.loadavg()}

    # 1. Queries per request, by kind: with every total counted (as at 1,000 tickets, and on the first
    # request of a filter), then as it runs, where totals of 10,000 or more come from the cache.
    for params in kinds.values():  # warm: caches, the chart, the token's last_used_at
        client.get(url(params), **auth)
    result["queries"] = count_queries(client, auth, kinds, reuse_totals=False)
    result["queries_reused"] = count_queries(client, auth, kinds, reuse_totals=True)

    # 2. In process, sequential.
    sequence = mix(kinds, args.inprocess_requests, seed=1)
    for _, path in sequence[:20]:
        client.get(path, **auth)
    in_process = []
    by_kind: dict[str, list[float]] = {}
    for name, path in sequence:
        began = time.perf_counter()
        response = client.get(path, **auth)
        elapsed = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, (path, response.status_code)
        in_process.append(elapsed)
        by_kind.setdefault(name, []).append(elapsed)
    result["in_process"] = _stack.stats(in_process)
    result["in_process_by_kind"] = {name: _stack.stats(values) for name, values in by_kind.items()}

    # 3 and 4. Through gunicorn.
    result["http"], result["creates"], result["floor"], result["paced"], result["server"] = [], [], [], [], ""
    if args.repeat or args.creates:
        with _stack.Gunicorn(workers=args.workers, threads=args.threads) as server:
            result["server"] = server.describe
            headers = {"Authorization": f"Token {_http_token(server.port)}", "Accept": "application/json"}
            meter = _stack.CpuMeter(server, database_name(args.size, args.db_suffix))
            result["http"] = http_list(
                args, server.port, headers, mix(kinds, args.http_requests, seed=2), meter
            )
            result["floor"] = [http_floor(args, server.port, meter)]
            if args.paced_rate:
                result["paced"] = [
                    http_paced(args, server.port, headers, mix(kinds, args.paced_requests, 3), meter)
                ]
            if args.creates:
                result["creates"] = http_create(args, server.port, headers, meter)
    result["load_after"] = _stack.loadavg()
    return result


def count_queries(client, auth: dict, kinds: dict[str, dict], *, reuse_totals: bool) -> dict:
    """SQL queries of one request of each kind. Unless `reuse_totals`, the list's cache of large totals
    is bypassed, so every request counts its rows."""
    from django.core.cache.backends.dummy import DummyCache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.api import views

    shared = getattr(views, "cache", None)  # the list's cache of large totals, if the code has one
    if shared is not None and not reuse_totals:
        views.cache = DummyCache("bench", {})
    try:
        queries = {}
        for name, params in kinds.items():
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url(params), **auth)
            assert response.status_code == 200, (name, response.status_code, response.content[:500])
            queries[name] = {
                "queries": len(captured.captured_queries),
                "rows": len(response.json()["results"]),
                "count": response.json()["count"],
                "sql": [q["sql"] for q in captured.captured_queries],
            }
        return queries
    finally:
        if shared is not None:
            views.cache = shared


def _http_token(port: int) -> str:
    """An agent's token from POST /api/v1/auth/token/ (the way integrations get one)."""
    status, body = _stack.request(
        "POST",
        "/api/v1/auth/token/",
        port=port,
        body=json.dumps({"username": "agent1", "password": "demo-agent-2026"}),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, body
    return json.loads(body)["token"]


def http_list(args, port: int, headers: dict, requests: list[tuple[str, str]], meter) -> list[dict]:
    """The list mix from `args.clients` concurrent clients, `args.repeat` times (after a warm-up)."""
    _stack.load(
        lambda i, c: ("GET", requests[i % len(requests)][1], None, headers),
        port=port,
        clients=args.clients,
        total=200,
    )
    runs = []
    for run in range(args.repeat):
        load_before, cpu = _stack.loadavg(), meter.snapshot()
        outcome = _stack.load(
            lambda i, c: ("GET", requests[i][1], None, headers),
            port=port,
            clients=args.clients,
            total=len(requests),
        )
        runs.append(_figures(outcome, outcome.rate, load_before, meter, cpu))
        print(f"list run {run + 1}: {_brief(runs[-1])}", flush=True)
    return runs


def http_paced(args, port: int, headers: dict, requests: list[tuple[str, str]], meter) -> dict:
    """The list mix at a steady `args.paced_rate` requests/s from the same clients, below saturation:
    the latency of a request that does not queue behind the others."""
    load_before, cpu = _stack.loadavg(), meter.snapshot()
    outcome = _stack.load(
        lambda i, c: ("GET", requests[i][1], None, headers),
        port=port,
        clients=args.clients,
        total=len(requests),
        rate=args.paced_rate,
    )
    figures = _figures(outcome, outcome.rate, load_before, meter, cpu)
    figures["offered"] = args.paced_rate
    print(f"paced {args.paced_rate:g}/s: {_brief(figures)}", flush=True)
    return figures


def http_floor(args, port: int, meter) -> dict:
    """/healthz (a database and a Redis round trip, no rendering) with the same clients: what the stack
    alone gives on this machine, the floor under any page's latency."""
    load_before, cpu = _stack.loadavg(), meter.snapshot()
    outcome = _stack.load(
        lambda i, c: ("GET", "/healthz", None, {}), port=port, clients=args.clients, total=args.http_requests
    )
    figures = _figures(outcome, outcome.rate, load_before, meter, cpu)
    print(f"/healthz: {_brief(figures)}", flush=True)
    return figures


def http_create(args, port: int, headers: dict, meter) -> list[dict]:
    """`args.creates` tickets from `args.clients` concurrent clients, `args.create_repeat` times. The
    tickets made are checked (clocks, enqueued tasks), then deleted; the bench queue is purged."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef

    from sla.models import TicketClock
    from tickets.models import Ticket

    customers = list(
        get_user_model()
        .objects.filter(membership__isnull=False, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    headers = {**headers, "Content-Type": "application/json"}
    runs = []
    for run in range(args.create_repeat):
        first_new = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        _stack.purge_queue()
        bodies = [create_body(i, customers) for i in range(args.creates)]
        load_before, cpu = _stack.loadavg(), meter.snapshot()
        outcome = _stack.load(
            lambda i, c, bodies=bodies: ("POST", LIST, bodies[i], headers),
            port=port,
            clients=args.clients,
            total=len(bodies),
            expect=(201,),
        )
        created = Ticket.objects.filter(pk__gte=first_new)
        figures = _figures(outcome, outcome.statuses.get(201, 0) / outcome.seconds, load_before, meter, cpu)
        figures["created"] = created.count()
        figures["with_clocks"] = created.filter(
            Exists(TicketClock.objects.filter(ticket=OuterRef("pk")))
        ).count()
        figures["s1"] = created.filter(severity="S1").count()
        figures["enqueued"] = _stack.purge_queue()
        runs.append(figures)
        print(f"create run {run + 1}: {_brief(figures)}", flush=True)
        created.delete()
    return runs


def _figures(outcome, rate: float, load: str, meter, cpu_before: dict) -> dict:
    cpu = _stack.CpuMeter.per_request(cpu_before, meter.snapshot(), len(outcome.latencies_ms))
    return {
        **_stack.stats(outcome.latencies_ms),
        "rate": rate,
        "errors": len(outcome.errors),
        "first_errors": outcome.errors[:3],
        "load": load,
        "app_cpu_ms": cpu["app"],
        "db_cpu_ms": cpu["db"],
    }


SEVERITY_MIX = ["S1"] * 2 + ["S2"] * 15 + ["S3"] * 48 + ["S4"] * 22 + ["S5"] * 13


def create_body(i: int, customers: list[int]) -> bytes:
    """A ticket as an integration files it for a customer: the intake and the interview context."""
    rng = random.Random(i)
    return json.dumps(
        {
            "subject": f"Bench: interview links fail for candidates ({i})",
            "description": "Candidates open the link in the invitation and get an error page. " * 3,
            "severity": SEVERITY_MIX[i % len(SEVERITY_MIX)],
            "requester": customers[i % len(customers)],
            "channel": "email",
            "affected_role": "candidate",
            "impact_scope": "several_users",
            "product_area": "Scheduling",
            "feature": "Invitation links",
            "error_message": "500 Internal Server Error",
            "occurrence": "ongoing",
            "started_at": "2026-03-02T15:30:00Z",
            "reason": "",
            "interview": {
                "candidates": [
                    {"name": f"Candidate {i}-{n}", "email": f"candidate{i}.{n}@example.com"}
                    for n in range(rng.randint(1, 3))
                ],
                "interviewers": ["Jordan Lee", "Sam Patel"],
                "position": "Senior Backend Engineer",
                "template_name": "Onsite loop",
                "template_changes": "Added a system-design round.",
                "starts_at": "2026-03-10T16:00:00Z",
                "ends_at": "2026-03-10T20:00:00Z",
            },
        }
    ).encode()


def _brief(figures: dict) -> str:
    return (
        f"n={figures['n']} p50={figures['p50']:.1f} p95={figures['p95']:.1f} p99={figures['p99']:.1f} ms, "
        f"{figures['rate']:.0f}/s, CPU ms app {figures['app_cpu_ms']:.1f} db {figures['db_cpu_ms']:.1f}, "
        f"errors={figures['errors']}, load {figures['load']}"
    )


# --- the parent: one child per size, then the tables ----------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--inprocess-requests", type=int, default=200)
    parser.add_argument("--http-requests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of the gunicorn list load.")
    parser.add_argument(
        "--paced-rate", type=float, default=25.0, help="Requests/s of the paced list run (0: none)."
    )
    parser.add_argument("--paced-requests", type=int, default=750)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--create-repeat", type=int, default=2)
    parser.add_argument(
        "--create-sizes",
        type=int,
        nargs="*",
        default=None,
        help="Sizes to measure creation at (default: the largest).",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--drop", action="store_true", help="Drop the bench databases at the end.")
    parser.add_argument(
        "--db-suffix", default="", help="Appended to the database names (another set, e.g. to compare code)."
    )
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.size is not None:  # the child
        result = run_size(args)
        Path(args.json).write_text(json.dumps(result, default=str))
        return

    create_sizes = args.create_sizes if args.create_sizes is not None else [max(args.sizes)]
    results = []
    for size in args.sizes:
        out = Path(tempfile.gettempdir()) / f"bench-api-{size}-{os.getpid()}.json"
        command = [
            sys.executable,
            __file__,
            "--size",
            str(size),
            "--json",
            str(out),
            "--clients",
            str(args.clients),
            "--inprocess-requests",
            str(args.inprocess_requests),
            "--http-requests",
            str(args.http_requests),
            "--repeat",
            str(args.repeat),
            "--paced-rate",
            str(args.paced_rate),
            "--paced-requests",
            str(args.paced_requests),
            "--creates",
            str(args.creates if size in create_sizes else 0),
            "--create-repeat",
            str(args.create_repeat),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--db-suffix",
            args.db_suffix,
        ]
        print(f"=== {size:,} tickets ===", flush=True)
        subprocess.run(command, check=True)
        results.append(json.loads(out.read_text()))
        out.unlink()
    report(results, args)
    if args.drop:
        for size in args.sizes:
            _stack.drop_database(database_name(size, args.db_suffix))
            print(f"dropped {database_name(size, args.db_suffix)}")


def report(results: list[dict], args) -> None:
    print()
    print(f"Machine: {_stack.machine()}")
    sizes = [f"{r['tickets']:,}" for r in results]
    names = list(results[0]["queries"])
    print("\nSQL queries per list request (in process): totals counted / large totals reused\n")
    rows = []
    for name in names:
        counts = [r["queries"][name]["queries"] for r in results]
        reused = [r["queries_reused"][name]["queries"] for r in results]
        ok = max(counts) <= TARGET_QUERIES and len(set(counts)) == 1
        rows.append(
            [name, *[f"{a} / {b}" for a, b in zip(counts, reused, strict=True)], "pass" if ok else "MISS"]
        )
    print(_stack.table(["request", *[f"queries at {s}" for s in sizes], "≤ 10 and equal"], rows))

    print("\nLatency in process (django.test.Client, sequential, ms)\n")
    rows = []
    for s, r in zip(sizes, results, strict=True):
        f = r["in_process"]
        rows.append([s, f["n"], f["p50"], f["p95"], f["p99"], f["max"]])
    print(_stack.table(["tickets", "requests", "p50", "p95", "p99", "max"], rows))
    print("\nBy kind in process (p50 ms)\n")
    rows = [[name, *[r["in_process_by_kind"][name]["p50"] for r in results]] for name in names]
    print(_stack.table(["request", *[f"p50 at {s}" for s in sizes]], rows))

    print(
        f"\nList through gunicorn, {args.clients} clients ({results[0]['server']}); ms, CPU ms per request\n"
    )
    rows = []
    for s, r in zip(sizes, results, strict=True):
        for run, f in enumerate(r["http"], 1):
            verdict = "pass" if f["p95"] < TARGET_P95_MS else "MISS"
            rows.append(
                [
                    s,
                    run,
                    f["n"],
                    f["p50"],
                    f["p95"],
                    f["p99"],
                    f["rate"],
                    f["app_cpu_ms"],
                    f["db_cpu_ms"],
                    f["errors"],
                    f["load"],
                    verdict,
                ]
            )
        rows.extend(_floor_rows(s, r))
    print(
        _stack.table(
            [
                "tickets",
                "run",
                "requests",
                "p50",
                "p95",
                "p99",
                "req/s",
                "app CPU",
                "db CPU",
                "errors",
                "load avg",
                "p95 < 50 ms",
            ],
            rows,
        )
    )

    rows = []
    for s, r in zip(sizes, results, strict=True):
        for run, f in enumerate(r["creates"], 1):
            verdict = "pass" if f["rate"] >= TARGET_CREATES_PER_SECOND else "MISS"
            rows.append(
                [
                    s,
                    run,
                    f["created"],
                    f["with_clocks"],
                    f["s1"],
                    f["enqueued"],
                    f["p50"],
                    f["p95"],
                    f["p99"],
                    f["rate"],
                    f["app_cpu_ms"],
                    f["db_cpu_ms"],
                    f["errors"],
                    f["load"],
                    verdict,
                ]
            )
    if rows:
        print(f"\nCreation through gunicorn (POST {LIST}), {args.clients} clients; ms, CPU ms per create\n")
        print(
            _stack.table(
                [
                    "tickets",
                    "run",
                    "created",
                    "with clocks",
                    "S1",
                    "tasks enqueued",
                    "p50",
                    "p95",
                    "p99",
                    "creates/s",
                    "app CPU",
                    "db CPU",
                    "errors",
                    "load avg",
                    "≥ 150/s",
                ],
                rows,
            )
        )
    for r in results:
        runs = r["http"] + r["creates"] + r.get("floor", []) + r.get("paced", [])
        errors = [e for f in runs for e in f["first_errors"]]
        if errors:
            print(f"\nfirst errors at {r['tickets']:,}: {errors[:3]}")


def _floor_rows(size: str, result: dict) -> list[list]:
    paced = [
        [
            size,
            f"paced, {f['offered']:g}/s offered",
            f["n"],
            f["p50"],
            f["p95"],
            f["p99"],
            f["rate"],
            f["app_cpu_ms"],
            f["db_cpu_ms"],
            f["errors"],
            f["load"],
            ("pass" if f["p95"] < TARGET_P95_MS else "miss") + " (paced)",
        ]
        for f in result.get("paced", [])
    ]
    return paced + [
        [
            size,
            "/healthz",
            f["n"],
            f["p50"],
            f["p95"],
            f["p99"],
            f["rate"],
            f["app_cpu_ms"],
            f["db_cpu_ms"],
            f["errors"],
            f["load"],
            "(floor)",
        ]
        for f in result.get("floor", [])
    ]


if __name__ == "__main__":
    main()
