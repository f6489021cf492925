"""Article suggestions while filing: GET /api/v1/articles/suggest/?q=… at 1,000 published articles.

    .venv/bin/python bench/article_suggest.py [--articles 1000] [--requests 400] [--db-suffix ""] [--drop]

Needs PostgreSQL (DATABASE_URL's server). Uses the database `helpdesk_bench_articles` (created and migrated
when missing), tops it up to `--articles` published articles (the shipped ones plus generated ones: a
title and 150–400 words of support prose each, drawn from a vocabulary of the product), and measures, in
process (django.test.Client, so the figures are the server's time without the network):

1. SQL queries per suggestion request (target: a fixed number, whatever the number of articles);
2. server time per request over `--requests` requests of realistic subjects and descriptions being typed
   (prefixes of them, as the debounced form sends), signed in as a customer: p50/p95/p99/max.
   Target: p95 ≤ 50 ms.
3. the search alone (tickets.article_search.suggest), without the view and the JSON.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _stack

TARGET_P95_MS = 50.0

_VOCABULARY_TEXT = (
    "interview calendar sync schedule candidate interviewer coordinator availability slot invite invitation "
    "email template panel position reschedule cancel zoom teams meeting link timezone hours working buffer "
    "feedback scorecard report export ATS integration greenhouse lever workday import job stage pipeline "
    "self-scheduling booking confirmation reminder notification settings permission role admin user login "
    "password single sign-on SAML room resource conference hold block event recurring weekly load balance "
    "training shadow reverse shadow debrief hiring manager recruiter offer onsite phone screen video"
)
_FILLER_TEXT = "the a to for when your you can if this is in on with it of and or be not are will"
VOCABULARY = _VOCABULARY_TEXT.split()
FILLER = _FILLER_TEXT.split()

QUERIES = [
    "interview not showing on calendar",
    "Candidate did not receive the interview invitation email",
    "Zoom link missing from the calendar invite",
    "self-scheduling link shows no available slots",
    "interviewer load balancing not working",
    "How do I change the email template for reschedules?",
    "Greenhouse integration stopped importing candidates",
    "wrong time zone on the candidate confirmation",
    "cannot log in with single sign-on",
    "reports export is empty",
    "feedback scorecard reminder not sent to interviewers",
    "double booked conference room",
    "日本語の面接カレンダー",
    "x",
]


def generate(n: int, rng: random.Random) -> list[tuple[str, str]]:
    articles = []
    for i in range(n):
        title_words = rng.sample(VOCABULARY, 5)
        title = f"{' '.join(title_words).capitalize()} ({i})"
        paragraphs = []
        for _ in range(rng.randint(3, 6)):
            words = [
                rng.choice(VOCABULARY if rng.random() < 0.45 else FILLER) for _ in range(rng.randint(40, 70))
            ]
            paragraphs.append(" ".join(words).capitalize() + ".")
        articles.append((title, "\n\n".join(paragraphs)))
    return articles


def top_up(total: int) -> int:
    from django.utils import timezone

    from tickets.knowledge import render_markdown
    from tickets.models import Article

    have = Article.objects.filter(status="published").count()
    missing = max(0, total - have)
    now = timezone.now()
    rows = []
    for i, (title, body) in enumerate(generate(missing, random.Random(7))):
        rendered = render_markdown(body)
        rows.append(
            Article(
                title=title,
                slug=f"bench-{have + i}",
                body=body,
                body_html=rendered.html,
                body_text=rendered.text,
                visibility="public",
                status="published",
                created_at=now,
                updated_at=now,
            )
        )
    Article.objects.bulk_create(rows, batch_size=500)  # the trigger fills each search vector
    return Article.objects.filter(status="published").count()


def typed(query: str) -> list[str]:
    """What a debounced form sends while `query` is typed: its prefixes at word ends, then the whole."""
    words = query.split()
    return [" ".join(words[: i + 1]) for i in range(len(words))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--db-suffix", default="")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()

    database = f"helpdesk_bench_articles{args.db_suffix}"
    _stack.use_database(database)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CustomerFactory
    from tickets import article_search
    from tickets.models import Article

    count = top_up(args.articles)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_article")
    customer = CustomerFactory(username=f"bench-customer-{int(time.time())}")
    client = Client()
    client.force_login(customer)
    url = "/api/v1/articles/suggest/"

    stream = [text for query in QUERIES for text in typed(query)]
    for text in stream:  # warm-up: connections, caches, the planner's statistics
        client.get(url, {"q": text})

    with CaptureQueriesContext(connection) as queries:
        client.get(url, {"q": "interview not showing on calendar"})
    counts = {n: len(queries) for n in [count]}

    latencies = []
    for i in range(args.requests):
        text = stream[i % len(stream)]
        start = time.perf_counter()
        response = client.get(url, {"q": text})
        latencies.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
    search_only = []
    published = Article.objects.visible_to(None)
    for i in range(args.requests):
        text = stream[i % len(stream)]
        start = time.perf_counter()
        article_search.suggest(published, text)
        search_only.append((time.perf_counter() - start) * 1000)

    first = client.get(url, {"q": "interview not showing on calendar"}).json()[0]["slug"]
    server = _stack.stats(latencies)
    alone = _stack.stats(search_only)
    print(f"\n{count:,} published articles; SQL queries per suggestion request: {counts[count]}")
    print(f"best match for 'interview not showing on calendar': {first}\n")
    print(
        _stack.table(
            ["measure", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [
                [
                    "GET suggest (server time, in process)",
                    server["n"],
                    server["p50"],
                    server["p95"],
                    server["p99"],
                    server["max"],
                ],
                [
                    "article_search.suggest alone",
                    alone["n"],
                    alone["p50"],
                    alone["p95"],
                    alone["p99"],
                    alone["max"],
                ],
            ],
        )
    )
    verdict = "met" if server["p95"] <= TARGET_P95_MS else "MISSED"
    print(f"\ntarget p95 ≤ {TARGET_P95_MS:.0f} ms: {verdict}  ({_stack.machine()})")
    customer.delete()
    if args.drop:
        _stack.drop_database(database)


if __name__ == "__main__":
    main()
