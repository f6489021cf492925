"""Full-text search building blocks shared by every search of the project (tickets, help-center articles).

PostgreSQL does the real work: a stored, GIN-indexed `tsvector` per row, queried with
`websearch_to_tsquery` (the syntax people know from web search engines: `"a phrase"`, `-word`,
`this or that`), ranked with `ts_rank` and shown with `ts_headline`. The embedded mode (SQLite) has none
of that; it gets the same syntax read here in Python and turned into `icontains` conditions — a slower,
unranked, but correct fallback for the small databases that mode is for.

API:
- `websearch(text)` — the `SearchQuery` for a user's search box text (PostgreSQL).
- `headline(expression, text)` — a `SearchHeadline` whose fragments are marked for `safe_snippet`.
- `safe_snippet(raw)` — a headline (or any text with the marks) as escaped HTML with `<mark>` tags.
- `parse(text)` / `matches_q(text, lookups)` — the same syntax as `Q` objects for SQLite.
- `highlight(text, query)` — a snippet of `text` around the query's words, as escaped HTML (SQLite).
- `capped_count(queryset, cap)` — how many rows, counting no further than `cap + 1`.
- `pk_in(ids)` — a condition "the primary key is one of `ids`", one array parameter on PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce
from operator import and_, or_

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.db import connection
from django.db.models import BooleanField, Expression, F, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: The text search configuration of every stored vector (migration tickets 0016 uses the same).
CONFIG = "english"

# Marks ts_headline puts around a match: not HTML, so the text can be escaped first and marked after.
_START, _STOP = "\u27e6", "\u27e7"
HEADLINE_OPTIONS = {
    "start_sel": _START,
    "stop_sel": _STOP,
    "max_words": 30,
    "min_words": 12,
    "max_fragments": 2,
    "fragment_delimiter": " … ",
}


def websearch(text: str) -> SearchQuery:
    """`text` as typed in a search box, read by PostgreSQL's `websearch_to_tsquery` (never a syntax error)."""
    return SearchQuery(text, search_type="websearch", config=CONFIG)


def headline(expression, text: str) -> SearchHeadline:
    """Fragments of `expression` (a text column or expression) around the words of `text`."""
    return SearchHeadline(expression, websearch(text), config=CONFIG, **HEADLINE_OPTIONS)


def safe_snippet(raw: str | None) -> SafeString:
    """A headline as HTML: the text escaped, its matches in `<mark>`."""
    html = escape(raw or "")
    return mark_safe(html.replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308 - escaped above


# --- the same syntax without PostgreSQL -------------------------------------------------------------

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a quoted phrase; `exclude` for a leading minus."""

    text: str
    exclude: bool = False


def parse(text: str) -> list[list[Term]]:
    """`text` as websearch_to_tsquery reads it: groups joined by `or`, each a list of terms that must all
    match (or, for an excluded term, must not). Empty when there is nothing to search for."""
    groups: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(text or ""):
        minus, phrase, word = match.groups()
        if word is not None:
            if word.lower() == "or" and groups[-1]:
                groups.append([])
                continue
            exclude = word.startswith("-") and len(word) > 1
            word = word[1:] if exclude else word
            word = word.strip("\"'.,;:!?()[]{}")
            if word:
                groups[-1].append(Term(word, exclude))
        elif phrase.strip():
            groups[-1].append(Term(" ".join(phrase.split()), bool(minus)))
    return [group for group in groups if any(not term.exclude for term in group)]


def matches_q(text: str, lookups: list[str]) -> Q | None:
    """A condition matching `text` (websearch syntax) against any of `lookups` (each an `icontains`-able
    path, e.g. "subject" or "messages__body"); None when `text` has nothing to search for."""
    groups = parse(text)
    if not groups:
        return None

    def anywhere(term: Term) -> Q:
        return reduce(or_, (Q(**{f"{lookup}__icontains": term.text}) for lookup in lookups))

    return reduce(
        or_,
        (reduce(and_, (~anywhere(t) if t.exclude else anywhere(t) for t in group)) for group in groups),
    )


def highlight(text: str, query: str, *, width: int = 180) -> SafeString:
    """A snippet of `text` around the first word of `query` it holds, the words marked (escaped HTML)."""
    words = [term.text for group in parse(query) for term in group if not term.exclude]
    text = " ".join((text or "").split())
    if not words or not text:
        return safe_snippet(text[:width])
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)), re.I)
    found = pattern.search(text)
    start = max(found.start() - width // 3, 0) if found else 0
    piece = text[start : start + width]
    marked = pattern.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", piece)
    return safe_snippet(("…" if start else "") + marked + ("…" if start + width < len(text) else ""))


def capped_count(queryset: QuerySet, cap: int) -> int:
    """The number of rows of `queryset`, or `cap + 1` if there are more than `cap`: what it costs does not
    grow with the table (PostgreSQL stops reading at `cap + 1`)."""
    return queryset.order_by().values("pk")[: cap + 1].count()


class _AnyOf(Expression):
    """`column = ANY(%s)` with the values as one array parameter. `pk__in` with 500 ids made Django build,
    and psycopg quote, 500 parameters in each query that used them (the count and the page): ≈ 5 ms of
    CPU per query at a million tickets, for a list PostgreSQL reads as an array anyway."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, values: list[int]):
        super().__init__()
        self.column, self.values = F(column), list(values)

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.column = self.column.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        return f"{sql} = ANY(%s)", (*params, self.values)


def pk_in(ids: list[int]) -> Q:
    """The condition "the primary key is one of `ids`": one array parameter on PostgreSQL (see `_AnyOf`),
    Django's `IN (…)` elsewhere."""
    if connection.vendor == "postgresql":
        return Q(_AnyOf("pk", ids))
    return Q(pk__in=ids)
