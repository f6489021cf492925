"""The portal's My tickets page (/portal/) with 20 signed-in customers at once, on 10,000 tickets.

    .venv/bin/python bench/portal_my_tickets.py [--tickets 10000] [--users 20] [--requests 3000]
        [--repeat 3] [--paced-rate 20] [--workers 4 --threads 1] [--drop]

Needs PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432) and Redis
(REDIS_URL, default redis://127.0.0.1:6379/0). It works in the database `helpdesk_bench_portal` (created,
migrated and seeded with `seed_demo` + `seed_demo --tickets` when missing, reused otherwise; SLA clocks
are added in bulk for the open tickets). The demo has 9 customers; the benchmark adds requesters
`bench.customerNN` (password demo-customer-2026) up to `--users` and spreads each organization's
tickets over its customers, so every one of them has a few hundred. `--drop` drops the database at the end.

It prints:
1. SQL queries per request in process (django.test.Client + CaptureQueriesContext), and the latency of
   ~200 sequential requests.
2. Through gunicorn: each customer signs in through the login form (its own session cookie) and keeps
   its own keep-alive connection; 20 of them request /portal/ as fast as answers come (closed loop, no
   think time): p50/p95/p99, requests/s and CPU ms per request (gunicorn; the database's PostgreSQL
   backends), `--repeat` times; then once with a mix of pages, filters and searches, and once paced at
   `--paced-rate` requests/s (default 20: each customer once a second).
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _stack

DATABASE = "helpdesk_bench_portal"
PASSWORD = "demo-customer-2026"  # noqa: S105 - the demo logins the README publishes
PAGE = "/portal/"
#: The second load: what customers do besides opening the page.
MIX = [
    PAGE,
    PAGE,
    PAGE,
    f"{PAGE}?page=2",
    f"{PAGE}?status=open",
    f"{PAGE}?status=resolved",
    f"{PAGE}?severity=S2",
    f"{PAGE}?q=interview",
]


def ensure_customers(count: int) -> list:
    """`count` customers (the demo's, then bench requesters); each organization's tickets spread over
    its customers. Returns the users, in a fixed order."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from tickets.models import Membership, Organization, Ticket
    from tickets.services.people import customer_create

    User = get_user_model()
    customers = list(User.objects.filter(membership__isnull=False, is_active=True).order_by("pk"))
    organizations = list(Organization.objects.order_by("pk"))
    created = 0
    while len(customers) < count:
        number = len(customers) + 1
        username = f"bench.customer{number:02d}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = customer_create(
                username=username,
                organization=organizations[number % len(organizations)],
                role=Membership.Role.REQUESTER,
                email=f"{username}@example.com",
                password=PASSWORD,
                first_name="Bench",
                last_name=f"Customer {number:02d}",
            )
            created += 1
        customers.append(user)
    customers = customers[:count]
    if created:
        print(f"added {created} bench customers; spreading the tickets over {count} customers…", flush=True)
        with connection.cursor() as cursor:
            for organization in organizations:
                ids = [u.pk for u in customers if u.membership.organization_id == organization.pk]
                cursor.execute(
                    f"UPDATE {Ticket._meta.db_table} SET requester_id = (%s::bigint[])[(id %% %s) + 1] "  # noqa: S608
                    "WHERE organization_id = %s",
                    [ids, len(ids), organization.pk],
                )
        _stack.vacuum()
    return customers


def in_process(customers: list, requests: int) -> dict:
    """Queries per request (a requester and an organization admin) and sequential latency."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Ticket

    clients = []
    for user in customers:
        client = Client()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        clients.append((user, client))
    queries = []
    shown = set()
    for user, client in clients:
        kind = "organization admin" if user.membership.is_admin else "requester"
        for path in (PAGE, f"{PAGE}?scope=organization") if kind == "organization admin" else (PAGE,):
            label = f"{kind}, {path}"
            if label in shown:
                continue
            shown.add(label)
            client.get(path)  # warm
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            assert response.status_code == 200, (user.username, response.status_code)
            tickets = Ticket.objects.visible_to(user)
            if "scope" not in path:
                tickets = tickets.filter(requester=user)
            queries.append([label, user.username, tickets.count(), len(captured.captured_queries)])
    latencies = []
    for i in range(requests + 20):
        user, client = clients[i % len(clients)]
        began = time.perf_counter()
        response = client.get(PAGE)
        elapsed = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, response.status_code
        if i >= 20:
            latencies.append(elapsed)
    return {"queries": queries, "latency": _stack.stats(latencies)}


def sign_in(port: int, username: str) -> str:
    """Sign in through the portal's login form; returns the session cookie's value."""
    connection = http.client.HTTPConnection(_stack.HOST, port, timeout=30)
    try:
        connection.request("GET", "/portal/login/", headers={"Host": _stack.HOST})
        response = connection.getresponse()
        page = response.read().decode()
        cookies = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        csrf = cookies["csrftoken"].value
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        connection.request(
            "POST",
            "/portal/login/",
            body=form,
            headers={
                "Host": _stack.HOST,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "Referer": f"http://{_stack.HOST}:{port}/portal/login/",
            },
        )
        response = connection.getresponse()
        response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        if response.status != 302 or "sessionid" not in cookies:
            raise RuntimeError(f"signing in as {username} failed: {response.status}")
        return cookies["sessionid"].value
    finally:
        connection.close()


def through_gunicorn(args, customers: list) -> dict:
    """Sign every customer in, then the closed-loop runs, the mix and the paced run."""
    result: dict = {"runs": [], "mix": None, "paced": None}
    with _stack.Gunicorn(workers=args.workers, threads=args.threads) as server:
        result["server"] = server.describe
        meter = _stack.CpuMeter(server, DATABASE)
        sessions = [sign_in(server.port, user.username) for user in customers]
        cookies = [{"Cookie": f"sessionid={session}"} for session in sessions]
        check = _stack.load(
            lambda i, c: ("GET", PAGE, None, cookies[c]), port=server.port, clients=len(cookies), total=200
        )
        if check.errors:
            raise RuntimeError(f"warm-up failed: {check.errors[:3]}")

        def measure(make, total: int, rate: float = 0.0) -> dict:
            load, cpu = _stack.loadavg(), meter.snapshot()
            outcome = _stack.load(make, port=server.port, clients=len(cookies), total=total, rate=rate)
            spent = _stack.CpuMeter.per_request(cpu, meter.snapshot(), len(outcome.latencies_ms))
            return {
                **_stack.stats(outcome.latencies_ms),
                "rate": outcome.rate,
                "errors": len(outcome.errors),
                "first_errors": outcome.errors[:3],
                "load": load,
                "app_cpu_ms": spent["app"],
                "db_cpu_ms": spent["db"],
            }

        def page(i: int, c: int) -> _stack.Request:
            return ("GET", PAGE, None, cookies[c])

        def mixed(i: int, c: int) -> _stack.Request:
            return ("GET", MIX[(i + c) % len(MIX)], None, cookies[c])

        for number in range(args.repeat):
            result["runs"].append(measure(page, args.requests))
            print(f"run {number + 1}: {_brief(result['runs'][-1])}", flush=True)
        result["mix"] = measure(mixed, args.requests)
        print(f"mix: {_brief(result['mix'])}", flush=True)
        if args.paced_rate:
            result["paced"] = measure(page, args.paced_requests, rate=args.paced_rate)
            print(f"paced {args.paced_rate:g}/s: {_brief(result['paced'])}", flush=True)
    return result


def _brief(f: dict) -> str:
    return (
        f"n={f['n']} p50={f['p50']:.1f} p95={f['p95']:.1f} p99={f['p99']:.1f} ms, {f['rate']:.0f}/s, "
        f"CPU ms app {f['app_cpu_ms']:.1f} db {f['db_cpu_ms']:.1f}, errors={f['errors']}, load {f['load']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3000, help="Requests per gunicorn run.")
    parser.add_argument("--inprocess-requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--paced-rate", type=float, default=20.0, help="Requests/s of the paced run (0: none)."
    )
    parser.add_argument("--paced-requests", type=int, default=600)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--drop", action="store_true", help="Drop the bench database at the end.")
    args = parser.parse_args()

    _stack.use_database(DATABASE)
    seeded = _stack.seed(args.tickets)
    customers = ensure_customers(args.users)
    from tickets.models import Ticket

    print(f"{Ticket.objects.count():,} tickets, {len(customers)} customers; {_stack.machine()}", flush=True)
    local = in_process(customers, args.inprocess_requests)
    http = through_gunicorn(args, customers)

    print(f"\nMachine: {_stack.machine()}")
    print(f"Seed: {seeded}")
    print("\nSQL queries per request (in process)\n")
    print(_stack.table(["page", "as", "tickets in the list", "queries"], local["queries"]))
    f = local["latency"]
    print("\nIn process, sequential (ms)\n")
    print(
        _stack.table(
            ["requests", "p50", "p95", "p99", "max"], [[f["n"], f["p50"], f["p95"], f["p99"], f["max"]]]
        )
    )
    print(
        f"\nThrough gunicorn ({http['server']}), {len(customers)} signed-in customers at once; ms, CPU ms\n"
    )
    labelled = [(f"{PAGE} run {n}", r) for n, r in enumerate(http["runs"], 1)]
    labelled.append(("mix (pages, filters, search)", http["mix"]))
    if http["paced"]:
        labelled.append((f"{PAGE} paced {args.paced_rate:g}/s", http["paced"]))
    headers = [
        "requests",
        "n",
        "p50",
        "p95",
        "p99",
        "max",
        "req/s",
        "app CPU",
        "db CPU",
        "errors",
        "load avg",
    ]
    keys = ["n", "p50", "p95", "p99", "max", "rate", "app_cpu_ms", "db_cpu_ms", "errors", "load"]
    print(_stack.table(headers, [[label, *[r[key] for key in keys]] for label, r in labelled]))
    errors = [e for _, r in labelled for e in r["first_errors"]]
    if errors:
        print(f"\nfirst errors: {errors[:3]}")
    if args.drop:
        _stack.drop_database(DATABASE)
        print(f"dropped {DATABASE}")


if __name__ == "__main__":
    main()
