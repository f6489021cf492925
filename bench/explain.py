"""EXPLAIN ANALYZE of the search and queue queries, at the size of the database you point it at.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hd_million .venv/bin/python bench/explain.py [--markdown]

The queries are built by the code that runs them (tickets.search.match_queries, the console's queue
conditions and counts), for the demo's `agent1` over the console's default view (the open tickets) and
for `sarah.chen` (a requester) in the portal. Each plan is run once to warm the cache, then explained
with ANALYZE and BUFFERS. The database is only read. With `--markdown`, each plan is printed under a
heading in a fenced block, to paste into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from helpdesk import search as text_search
    from portal.selectors import customer_tickets
    from tickets import search
    from tickets.admin.filters import QUEUE_COUNT_CAP, _queue_count_sources, queue_conditions
    from tickets.models import Ticket

    User = get_user_model()
    agent, customer = User.objects.get(username="agent1"), User.objects.get(username="sarah.chen")
    console = Ticket.objects.open()
    plans: list[tuple[str, str, bool]] = []  # (title, SQL, planned as the GIN step is)

    def add_search(who: str, tickets, viewer, text: str) -> None:
        field = search.vector_for(viewer)
        email = search._EMAIL.match(text) is not None
        queries = search.match_queries(
            tickets, field, text_search.websearch(text), text, email=email, look_alikes=False
        )
        if queries.exact:
            plans.append((f"{who} search `{text}`: the exact email matches", queries.exact, False))
        recent, everywhere = queries.steps
        step1 = f"{who} search `{text}`, step 1: the newest {search.RECENT_WINDOW} tickets"
        plans.append((step1, recent, False))
        plans.append(
            (
                f"{who} search `{text}`, step 2 (when step 1 finds fewer than {search.ENOUGH_RECENT}): "
                "the GIN index alone",
                everywhere,
                True,
            )
        )

    add_search("console", console, agent, "interview")
    add_search("console", console, agent, '"calendar sync" -google')
    add_search("console", console, agent, customer.email)
    add_search("portal", customer_tickets(customer), customer, '"calendar sync"')
    for name, rows in _queue_count_sources(agent).items():
        sql = search._bound_sql(rows[: QUEUE_COUNT_CAP + 1])
        plans.append((f"queue count `{name}` (capped at {QUEUE_COUNT_CAP + 1:,} rows)", sql, False))
    for name, condition in queue_conditions(agent).items():
        page = (
            console.filter(condition)
            .order_by("severity", "sla_due_at", "created_at", "-pk")
            .values("pk", "subject")[:50]
        )
        plans.append((f"queue `{name}`: its first page in queue order", search._bound_sql(page), False))

    from django.db import connection, transaction

    print(f"{Ticket.objects.count():,} tickets\n")
    for title, sql, gin_only in plans:
        with transaction.atomic(), connection.cursor() as cursor:
            if gin_only:  # as tickets_search_matches runs its last step
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(sql)
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        if args.markdown:
            print(f"#### {title}\n```\n{plan}\n```\n")
        else:
            print(f"== {title}\n{plan}\n")


if __name__ == "__main__":
    main()
