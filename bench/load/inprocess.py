"""What each kind of request in the load mix costs on its own: in process, one after another, no HTTP.

    .venv/bin/python -m bench.load.inprocess --tickets 100000 [--repeat 5] [--database NAME]

On the load suite's database for that size (`helpdesk_load_<size>`, prepared by
`python -m bench.load.run --tickets N --prepare-only` or a load run), with Django's test client signed in
as a requester (marcus.reed) and an agent (agent1): per kind, the median wall time and SQL time of
`--repeat` requests (after one warm-up), the number of queries, and the slowest statement. It explains
the load figures: what grows with the data is in the SQL column, and in which statement.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench import _stack
from bench.load.run import size_label


def kinds(customer, agent) -> dict[str, tuple[str, str]]:
    """Kind of request → (who, URL), as the locustfile sends them."""
    from tickets.models import Ticket

    own = Ticket.objects.filter(requester=customer).order_by("-updated_at").first()
    queued = Ticket.objects.open().in_queue_order().first()
    console = "/admin/tickets/ticket/"
    return {
        "portal: My tickets": ("customer", "/portal/"),
        "portal: My tickets ?status=open": ("customer", "/portal/?status=open"),
        "portal: My tickets ?q=interview": ("customer", "/portal/?q=interview"),
        "portal: My tickets ?page=5": ("customer", "/portal/?page=5"),
        "portal: ticket page": ("customer", f"/portal/tickets/{own.reference}/"),
        "portal: chat poll": ("customer", "/portal/chat/?after=-1"),
        "portal: new-ticket form": ("customer", "/portal/tickets/new/"),
        "console: queue ?queue=open": ("agent", f"{console}?queue=open"),
        "console: queue ?queue=breached": ("agent", f"{console}?queue=breached"),
        "console: queue ?queue=mine": ("agent", f"{console}?queue=mine"),
        "console: list ?q=interview": ("agent", f"{console}?q=interview"),
        "console: list ?severity__exact=S1": ("agent", f"{console}?severity__exact=S1"),
        "console: ticket page": ("agent", f"{console}{queued.pk}/change/"),
        "console: live fallback poll": ("agent", f"/live/tickets/{queued.pk}/?after=0"),
        "api: list (queue order)": ("agent", "/api/v1/tickets/"),
        "api: list ?status=open&status=new": ("agent", "/api/v1/tickets/?status=open&status=new"),
        "api: list ?sla_state=breached": ("agent", "/api/v1/tickets/?sla_state=breached"),
        "api: list ?ordering=-created_at": ("agent", "/api/v1/tickets/?ordering=-created_at&status=open"),
        "api: list ?search=interview": ("agent", "/api/v1/tickets/?search=interview"),
        "api: export page (cursor)": ("agent", "/api/v1/tickets/export/?page_size=100"),
        "api: ticket": ("agent", f"/api/v1/tickets/{queued.reference}/"),
    }


def measure(client, url: str, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    walls, sqls, slowest = [], [], (0.0, "")
    for attempt in range(repeat + 1):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(url, HTTP_HOST=_stack.HOST)
            wall = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        if attempt == 0:
            continue  # warm-up
        times = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
        walls.append(wall)
        sqls.append(sum(t for t, _ in times))
        slowest = max([slowest, *times], key=lambda pair: pair[0])
    return {
        "wall": statistics.median(walls),
        "sql": statistics.median(sqls),
        "queries": len(captured.captured_queries),
        "slowest_ms": slowest[0],
        "slowest": " ".join(slowest[1].split())[:90],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--database", help="Default: helpdesk_load_<size>.")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    database = args.database or f"helpdesk_load_{size_label(args.tickets)}"
    _stack.use_database(database)

    from django.contrib.auth import get_user_model
    from django.test import Client

    from tickets.models import Ticket

    users = get_user_model().objects
    clients = {}
    for who, username in (("customer", "marcus.reed"), ("agent", "agent1")):
        clients[who] = Client()
        clients[who].force_login(
            users.get(username=username), backend="django.contrib.auth.backends.ModelBackend"
        )
    rows = []
    for name, (who, url) in kinds(users.get(username="marcus.reed"), users.get(username="agent1")).items():
        f = measure(clients[who], url, args.repeat)
        rows.append([name, f["wall"], f["sql"], f["queries"], f["slowest_ms"], f"`{f['slowest']}…`"])
        print(f"{name}: {f['wall']:.1f} ms, SQL {f['sql']:.1f} ms", flush=True)
    print(f"\n{Ticket.objects.count():,} tickets in {database}; {_stack.machine()}\n")
    headers = ["request", "wall ms (median)", "SQL ms", "queries", "slowest ms", "slowest statement"]
    print(_stack.table(headers, rows))


if __name__ == "__main__":
    main()
