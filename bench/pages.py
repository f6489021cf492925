"""Every page agents and customers use, timed in process at the size of the database you point it at.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_million .venv/bin/python bench/pages.py \
        [--requests 5] [--only console,portal,api,dashboard] [--markdown]

The database must hold `manage.py seed_demo` and any number of `seed_demo --tickets N` (it is only read).
For each page: one warm-up request, then `--requests` timed ones; it prints the median and the best
wall time, the median CPU time of this process per request (Django's share; PostgreSQL's is the rest of
the wall time on a quiet machine), the SQL time and the number of queries of one more request. Agents
are `agent1`, customers `sarah.chen` (a requester) — the demo's logins. DEBUG is off, as deployed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")


def pages(ticket_id: int, agent_id: int, email: str) -> dict[str, list[tuple[str, str]]]:
    admin = "/admin/tickets/ticket/"
    return {
        "console": [
            ("list, default", admin),
            *[(f"queue {q}", f"{admin}?queue={q}") for q in QUEUES],
            ("filter severity S1", f"{admin}?severity__exact=S1"),
            ("filter status pending", f"{admin}?status__exact=pending"),
            ("filter channel email", f"{admin}?channel__exact=email"),
            ("filter organization", f"{admin}?organization__id__exact=1"),
            ("filter assignee me", f"{admin}?assignee=me"),
            ("filter unassigned + S2", f"{admin}?assignee=none&severity__exact=S2"),
            ("order by age", f"{admin}?o=9"),
            ("order by status, page 10", f"{admin}?o=4&p=10"),
            ("search interview", f"{admin}?q=interview"),
            ("search calendar sync (2 words)", f"{admin}?q=calendar+sync"),
            ('search "calendar sync" -google', f"{admin}?q=%22calendar+sync%22+-google"),
            ('search "invalid_grant" or quokka', f"{admin}?q=%22invalid_grant%22+or+quokka"),
            ("search reference", f"{admin}?q=HD-{ticket_id}"),
            ("search email", f"{admin}?q={email}"),
            ("search typo (calender synk)", f"{admin}?q=calender+synk"),
            ("search + queue open", f"{admin}?queue=open&q=interview"),
            ("ticket page", f"{admin}{ticket_id}/change/"),
            ("global search", "/admin/search/?q=calendar+sync"),
        ],
        "portal": [
            ("My tickets", "/portal/"),
            ("My tickets, page 40", "/portal/?page=40"),
            ("My tickets, open", "/portal/?status=open"),
            ("My tickets search interview", "/portal/?q=interview"),
            ('My tickets search "calendar sync"', "/portal/?q=%22calendar+sync%22"),
            ("organization, search", "/portal/?scope=organization&q=interview"),
        ],
        "api": [
            ("API list", "/api/v1/tickets/"),
            ("API search", "/api/v1/tickets/?search=interview"),
            ("API search phrase", "/api/v1/tickets/?search=%22calendar+sync%22"),
        ],
        "dashboard": [
            ("dashboard, default range", "/admin/dashboard/"),
            ("dashboard, a year", f"/admin/dashboard/?start={YEAR_AGO}"),
        ],
    }


def _profile(client, url: str, requests: int, lines: int) -> None:
    """`requests` more requests under cProfile: the functions taking the most time of their own."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(url, secure=True)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    print(out.getvalue())


YEAR_AGO = (date.today() - timedelta(days=364)).isoformat()
QUEUES = ("mine", "unassigned_urgent", "at_risk", "breached", "waiting", "open")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--only", default="console,portal,api,dashboard")
    parser.add_argument("--match", default="", help="only pages whose name contains this")
    parser.add_argument("--slowest", type=int, default=0, help="print this many slowest queries per page")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="print this many functions of a cProfile of each page (by own time)",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    # Unhashed static URLs: the pages are rendered without a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Ticket

    User = get_user_model()
    agent = User.objects.get(username="agent1")
    customer = User.objects.get(username="sarah.chen")
    ticket_id = Ticket.objects.order_by("-pk").values_list("pk", flat=True)[1000]
    clients = {"agent": Client(), "customer": Client()}
    clients["agent"].force_login(agent)
    clients["customer"].force_login(customer)
    size = Ticket.objects.count()
    print(f"{size:,} tickets; median of {args.requests} after a warm-up\n")
    print("| page | median ms | best ms | CPU ms (Django) | SQL ms | queries |")
    print("|---|---|---|---|---|---|")
    for group, rows in pages(ticket_id, agent.pk, customer.email).items():
        if group not in args.only.split(","):
            continue
        client = clients["customer" if group == "portal" else "agent"]
        for name, url in rows:
            if args.match and args.match not in name:
                continue
            response = client.get(url, secure=True)
            if response.status_code != 200:
                print(f"| {name} | HTTP {response.status_code} | | | |")
                continue
            walls, cpus = [], []
            for _ in range(args.requests):
                wall, cpu = time.perf_counter(), time.process_time()
                client.get(url, secure=True)
                walls.append((time.perf_counter() - wall) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            with CaptureQueriesContext(connection) as queries:
                client.get(url, secure=True)
            sql_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
            print(
                f"| {name} | {statistics.median(walls):,.0f} | {min(walls):,.0f} | "
                f"{statistics.median(cpus):,.0f} | {sql_ms:,.0f} | {len(queries)} |",
                flush=True,
            )
            if args.profile:
                _profile(client, url, args.requests, args.profile)
            for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[: args.slowest]:
                print(f"    {float(query['time']) * 1000:,.1f} ms  {query['sql'][:600]}")


if __name__ == "__main__":
    main()
