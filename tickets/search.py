"""Ticket search: one service for the console's list and header box, the portal's My tickets and the API.

On PostgreSQL a ticket's words live in two stored, GIN-indexed vectors kept by triggers (migration
0016): `search_all` for agents (internal notes included) and `search_public` for customers (what they may
read). The query is `websearch_to_tsquery` — `"a phrase"`, `-exclude`, `this or that` — and results come

1. **exact matches first**: a reference (`HD-123`, `123`) and an email address (the requester's, or a
   candidate's), found through b-tree indexes;
2. then the **word matches, ranked** (`ts_rank`: subject above description and intake above the
   conversation). Ranking reads each match's vector, so it is bounded: the newest `WORD_MATCHES` matches
   are ranked, which keeps a search for a common word as fast at a million tickets as at ten thousand;
3. and when neither finds anything, the **subjects that look like the text** (pg_trgm word similarity)
   among the newest TYPO_WINDOW tickets, which forgives typos ("calender sync").

Who may find what is the caller's queryset (`Ticket.objects.visible_to`) plus the vector read for the
viewer: a customer never matches an internal note's words, nor another organization's ticket.

The embedded mode (SQLite) searches the same fields with `icontains` (helpdesk.search.matches_q): the
same syntax, exact matches first, newest first, no typo tolerance — fine for a demo's few thousand rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import StringAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchRank, TrigramWordSimilarity
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat

from helpdesk import search
from tickets.models import Candidate, Message, Ticket, parse_reference
from tickets.permissions import is_agent

#: How many word matches are ranked (the newest ones); more are not looked at.
WORD_MATCHES = 500
#: The newest tickets read first (one by one); when ENOUGH_RECENT of them match (a page of the portal's
#: results), older ones are not read: reading a phrase of common words through the GIN index costs
#: 0.1–0.2 s for a customer with 100,000 tickets, where their newest 2,000 already fill the first page.
RECENT_WINDOW = 2000
ENOUGH_RECENT = 20
#: At most this many matches are read through the GIN index (in the table's order, so older tickets).
GIN_MATCHES = 500
#: How many tickets an exact email match brings (the newest).
EXACT_MATCHES = 100
#: How many look-alike subjects are offered when nothing matches.
TYPO_MATCHES = 50
#: Typo matches are looked for among this many of the newest tickets.
TYPO_WINDOW = 2000
#: How alike a subject's words must be to the text for a typo match (pg_trgm's word_similarity, 0–1).
TYPO_SIMILARITY = 0.5

#: Typo matches are for plain words: a quoted phrase, an exclusion or an `or` is precise on purpose.
_PLAIN_WORDS = re.compile(r'^(?!.*(?:"|(?:^|\s)-|\sor\s))', re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class GroupConcat(Aggregate):
    """SQLite's group_concat: the public messages of a ticket as one text (the embedded fallback)."""

    function = "GROUP_CONCAT"
    output_field = CharField()


#: The order of search results: exact matches, then by relevance, then the newest.
RESULT_ORDER = ("-search_exact", "-search_rank", "-pk")


def uses_postgresql() -> bool:
    return connection.vendor == "postgresql"


def vector_for(viewer) -> str:
    """The stored vector `viewer` may search: agents read internal notes too."""
    return "search_all" if is_agent(viewer) else "search_public"


def search_tickets(tickets: QuerySet[Ticket], text: str, *, viewer) -> QuerySet[Ticket]:
    """The tickets of `tickets` that match `text`, annotated with `search_exact` (1 for an exact
    reference or email match) and `search_rank`, in `RESULT_ORDER`. `tickets` decides who sees what
    (already narrowed to what `viewer` may see, and by any filters); the result is at most
    WORD_MATCHES + EXACT_MATCHES + 1 rows, so counting and paging it is cheap. On PostgreSQL finding
    the matches is one query, whatever kind of match the text finds."""
    text = (text or "").strip()
    if not text:
        return tickets
    reference = parse_reference(text)
    email = _EMAIL.match(text) is not None
    if not search.parse(text) and reference is None and not email:
        # Only exclusions ("-calendar"): every ticket but a few, which is no search (and would make the
        # GIN index read all of its entries).
        return tickets.none()
    if uses_postgresql():
        field = vector_for(viewer)
        query = search.websearch(text)
        look_alikes = reference is None and not email and _PLAIN_WORDS.match(text) is not None
        exact_ids, words, typos = _matches(tickets, field, query, text, email=email, look_alikes=look_alikes)
        rank = TrigramWordSimilarity(text, "subject") if typos else SearchRank(F(field), query)
        words = words or typos
    else:
        exact_ids = _fallback_exact_ids(tickets, text) if email else []
        condition = search.matches_q(text, _fallback_lookups(viewer))
        words = [] if condition is None else _fallback_ids(tickets, condition)
        rank = Value(0.0)
    exact = _exact_condition(reference, exact_ids)
    found = tickets.filter(search.pk_in(words) | exact if exact is not None else search.pk_in(words))
    return found.annotate(
        search_exact=Case(When(exact, then=Value(1)), default=Value(0), output_field=IntegerField())
        if exact is not None
        else Value(0, output_field=IntegerField()),
        search_rank=rank,
    ).order_by(*RESULT_ORDER)


def _look_alikes(tickets: QuerySet[Ticket], text: str) -> QuerySet:
    """Among the newest TYPO_WINDOW tickets, those whose subject has words like `text` (pg_trgm's
    word_similarity): "calender synk" finds "calendar sync". Read by walking the newest tickets, not
    through the trigram index, whose bitmap for common trigrams covers most of the table."""
    similarity = TrigramWordSimilarity(text, "subject")
    return (
        tickets.filter(pk__gt=RawSQL("(SELECT max(id) FROM tickets_ticket) - %s", [TYPO_WINDOW]))
        .annotate(similarity=similarity)
        .filter(similarity__gte=TYPO_SIMILARITY)
        .order_by("-similarity", "-pk")
        .values_list("pk", flat=True)[:TYPO_MATCHES]
    )


@dataclass(frozen=True)
class MatchQueries:
    """The SELECTs a search runs in tickets_search_matches, each with its values bound: the exact email
    matches (or None), the word matches' steps (the newest tickets, then the GIN index alone) and the
    look-alike subjects (or None). `bench/explain.py` prints their plans."""

    exact: str | None
    steps: list[str]
    look_alikes: str | None


def match_queries(
    tickets: QuerySet[Ticket], field: str, query, text: str, *, email: bool, look_alikes: bool
) -> MatchQueries:
    """What `_matches` runs (see there)."""
    matching = tickets.filter(**{field: query}).order_by()
    # The newest tickets of the scope, in an order an index serves: by id for agents (the primary key, or
    # the open tickets' ids), by last activity for customers (their own or their organization's). The
    # RECENT_WINDOW-th newest is found first (one index read), then the scan down from the newest stops as
    # soon as it has WORD_MATCHES matches.
    order = "pk" if field == "search_all" else "updated_at"
    oldest_recent = Subquery(tickets.order_by(f"-{order}").values(order)[RECENT_WINDOW - 1 : RECENT_WINDOW])
    floor = Value(0) if order == "pk" else Value(datetime(1970, 1, 1, tzinfo=UTC))
    recent = (
        matching.filter(**{f"{order}__gte": Coalesce(oldest_recent, floor)})
        .order_by(f"-{order}")
        .values_list("pk", flat=True)[:WORD_MATCHES]
    )
    return MatchQueries(
        exact=_exact_email_sql(tickets, text) if email else None,
        steps=[_bound_sql(recent), _bound_sql(matching.values_list("pk", flat=True)[:GIN_MATCHES])],
        look_alikes=_bound_sql(_look_alikes(tickets, text)) if look_alikes else None,
    )


def _matches(
    tickets: QuerySet[Ticket], field: str, query, text: str, *, email: bool, look_alikes: bool
) -> tuple[list[int], list[int], list[int]]:
    """The ids of the exact email matches, of the newest word matches (at most WORD_MATCHES) and, when
    there is neither, of the look-alike subjects: in one round trip (the SQL function
    tickets_search_matches, migration 0024), in a time that does not grow with the table, whichever way
    PostgreSQL would have guessed the query's selectivity.

    Word matches are two bounded reads. First the newest RECENT_WINDOW tickets of the scope (what
    `tickets` holds), each checked against the query: what a common word needs, its matches are among
    the newest. If that finds fewer than ENOUGH_RECENT, the GIN index alone, for at most GIN_MATCHES
    matches: what a rare word, a phrase or an exclusion needs. Of both the newest WORD_MATCHES are kept.
    (Left to itself PostgreSQL walked the primary key for a phrase it thought common: 20 s at a million
    tickets, for no match.)
    """
    queries = match_queries(tickets, field, query, text, email=email, look_alikes=look_alikes)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind FROM tickets_search_matches(%s, %s, %s, %s)",
            [queries.exact, queries.steps, queries.look_alikes, ENOUGH_RECENT],
        )
        found: tuple[set[int], set[int], list[int]] = (set(), set(), [])
        for pk, kind in cursor.fetchall():
            if kind == 2:
                found[2].append(pk)
            else:
                found[kind].add(pk)
    exact, words, typos = found
    return sorted(exact), sorted(words, reverse=True)[:WORD_MATCHES], typos


def _bound_sql(queryset: QuerySet) -> str:
    """A queryset's SELECT with its parameters bound (quoted by psycopg), to be run by a SQL function."""
    sql, params = queryset.query.sql_with_params()
    return connection.ops.compose_sql(sql, params)


def attach_snippets(tickets: list[Ticket], text: str, *, viewer) -> None:
    """Set `search_snippet` (escaped HTML, matches in <mark>) on each of `tickets` (a page of results):
    where in the subject, description or conversation the words are. One query for the page."""
    text = (text or "").strip()
    if not tickets or not text:
        return
    ids = [ticket.pk for ticket in tickets]
    messages = Message.objects.filter(ticket=OuterRef("pk"))
    if not is_agent(viewer):
        messages = messages.public()
    if uses_postgresql():
        talk = messages.order_by().values("ticket").annotate(text=StringAgg("body", " · ")).values("text")
        body = Concat(
            "subject",
            Value(" · "),
            "description",
            Value(" · "),
            "error_message",
            Value(" · "),
            Coalesce(Subquery(talk), Value(""), output_field=TextField()),
            output_field=TextField(),
        )
        snippets = dict(
            Ticket.objects.filter(pk__in=ids)
            .annotate(snippet=search.headline(body, text))
            .values_list("pk", "snippet")
        )
        for ticket in tickets:
            ticket.search_snippet = search.safe_snippet(snippets.get(ticket.pk))
        return
    bodies: dict[int, list[str]] = {}
    for ticket_id, body in (
        Message.objects.filter(ticket_id__in=ids, **({} if is_agent(viewer) else {"internal": False}))
        .order_by("created_at", "pk")
        .values_list("ticket_id", "body")
    ):
        bodies.setdefault(ticket_id, []).append(body)
    for ticket in tickets:
        whole = " · ".join([ticket.subject, ticket.description, *bodies.get(ticket.pk, [])])
        ticket.search_snippet = search.highlight(whole, text)


def _exact_condition(reference: int | None, ids: list[int]) -> Q | None:
    """Tickets named exactly, as a condition: by reference (no query: the result's own query checks the
    ticket is in scope), or among `ids`, the exact email matches."""
    condition = Q(pk=reference) if reference is not None else None
    if ids:
        condition = Q(pk__in=ids) if condition is None else condition | Q(pk__in=ids)
    return condition


def _exact_email_sql(tickets: QuerySet[Ticket], email: str) -> str:
    """The newest EXACT_MATCHES tickets of `tickets` requested by `email`'s owner, and as many naming it
    as a candidate's, as one SELECT of ids (PostgreSQL). Each part is written so that PostgreSQL cannot
    but start from the email address: the requester's tickets are a subquery per person found (so the
    (requester, created_at) index is read for that person only; as a join it walked every ticket by
    creation time), the candidates' come from the index on (UPPER(email), ticket) in ticket order (as a
    semi-join it walked every candidate when none had the address)."""
    requested = (
        get_user_model()
        .objects.filter(email__iexact=email)
        .annotate(
            ids=ArraySubquery(
                tickets.filter(requester=OuterRef("pk")).order_by("-created_at").values("pk")[:EXACT_MATCHES]
            )
        )
        .values("ids")
    )
    parts = (_bound_sql(requested), _bound_sql(_naming(tickets, email)))
    sql = "SELECT unnest(requested.ids) FROM ({}) AS requested UNION ALL ({})"
    # Two SELECTs composed by Django, their values bound and quoted by psycopg.
    return sql.format(*parts)


def _naming(tickets: QuerySet[Ticket], email: str) -> QuerySet:
    return (
        Candidate.objects.filter(email__iexact=email, ticket__in=tickets.order_by().values("pk"))
        .order_by("-ticket_id")
        .values_list("ticket_id", flat=True)[:EXACT_MATCHES]
    )


def _fallback_exact_ids(tickets: QuerySet[Ticket], email: str) -> list[int]:
    """The exact email matches on SQLite: two queries, simply written."""
    people = get_user_model().objects.filter(email__iexact=email).values("pk")
    requested = (
        tickets.filter(requester__in=people)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:EXACT_MATCHES]
    )
    return sorted(set(requested) | set(_naming(tickets, email)))


def _fallback_lookups(viewer) -> list[str]:
    return [
        "subject",
        "description",
        "error_message",
        "feature",
        "product_area",
        "interview_position",
        "candidates__name",
        "candidates__email",
        "messages__body" if is_agent(viewer) else "public_message_body",
    ]


def _fallback_ids(tickets: QuerySet[Ticket], condition: Q) -> list[int]:
    """SQLite: the newest WORD_MATCHES tickets matching `condition` (joins deduplicated)."""
    public_body = Subquery(
        Message.objects.filter(ticket=OuterRef("pk"), internal=False)
        .order_by()
        .values("ticket")
        .annotate(text=GroupConcat("body"))
        .values("text")
    )
    return list(
        tickets.annotate(public_message_body=Coalesce(public_body, Value("")))
        .filter(condition)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .distinct()[:WORD_MATCHES]
    )
