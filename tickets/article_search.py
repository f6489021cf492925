"""Searching the help center: ranked, highlighted matches for the help center's search box, and the
suggestions shown while a customer files a ticket.

PostgreSQL: full-text search on `Article.search_vector` (the title weighted A, the text B; kept by a
trigger, GIN-indexed). The search box takes web-search syntax (words all required, "quoted phrases",
-excluded), and when that finds nothing falls back to any of the words; suggestions always take any of
the words, best first, since a subject being typed rarely names every word of an article. Highlights
come from ts_headline. Embedded mode (SQLite) has no full-text search: the same words are matched as
substrings and ranked in Python, title matches first; highlights are made here. Either way the highlight
is escaped text with only <mark> added, safe to show.

The ticket search (the `scale` work) may later share helpers with this; nothing here is specific to
tickets, only to articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tickets.models import Article

#: The longest query read (longer ones are cut, not refused: a pasted description is a fine query).
MAX_QUERY_CHARS = 500
#: At most this many words of a query count.
MAX_WORDS = 16
SUGGESTIONS = 5
CONFIG = "english"

_WORD = re.compile(r"\w+", re.UNICODE)
# Sentinels around highlighted words: control characters that the text never contains, so escaping the
# headline and then turning them into <mark> cannot let anything else through.
_START, _STOP = "\x02", "\x03"
#: Words too common to find anything by in the fallback (PostgreSQL has its own list).
_STOP_TEXT = (
    "a an and are as at be but by can do does for from how i if in into is it its my no not of on or "
    "our so than that the their then there these they this to was we what when where which who why "
    "will with you your "
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Hit:
    article: Article
    headline: SafeString  # escaped text with <mark> around the matches
    rank: float


def words(query: str) -> list[str]:
    """The query's words (any alphabet), lower-cased, at most MAX_WORDS, stop words dropped."""
    found = [w.lower() for w in _WORD.findall((query or "")[:MAX_QUERY_CHARS]) if w.strip("_")]
    kept = [w for w in found if w not in _STOP_WORDS]
    return list(dict.fromkeys(kept))[:MAX_WORDS]


def search(queryset, query: str, *, limit: int = 20, any_word: bool = False) -> list[Hit]:
    """The articles of `queryset` matching `query`, best first, each with a highlighted excerpt."""
    terms = words(query)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        hits = [] if any_word else _postgres(queryset, _web_query(query), limit)
        return hits or _postgres(queryset, _any_query(terms), limit)
    return _fallback(queryset, terms, limit)


def suggest(queryset, text: str, *, limit: int = SUGGESTIONS) -> list[Hit]:
    """Suggestions for a ticket being written: articles matching any of the words, best first."""
    return search(queryset, text, limit=limit, any_word=True)


# --- PostgreSQL -----------------------------------------------------------------------------------------


def _web_query(query: str) -> SearchQuery:
    return SearchQuery(
        " ".join((query or "")[:MAX_QUERY_CHARS].split()), search_type="websearch", config=CONFIG
    )


def _any_query(terms: list[str]) -> SearchQuery:
    combined = SearchQuery(terms[0], search_type="plain", config=CONFIG)
    for term in terms[1:]:
        combined |= SearchQuery(term, search_type="plain", config=CONFIG)
    return combined


def _postgres(queryset, query: SearchQuery, limit: int) -> list[Hit]:
    rows = (
        queryset.filter(search_vector=query)
        .annotate(
            rank=SearchRank(F("search_vector"), query, normalization=1),
            headline=SearchHeadline(
                "body_text",
                query,
                config=CONFIG,
                start_sel=_START,
                stop_sel=_STOP,
                max_words=30,
                min_words=12,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        .select_related("category")
        .order_by("-rank", "title", "pk")[:limit]
    )
    return [Hit(row, _marked(row.headline), float(row.rank)) for row in rows]


# --- the embedded fallback ------------------------------------------------------------------------------


def _fallback(queryset, terms: list[str], limit: int) -> list[Hit]:
    condition = Q()
    for term in terms:
        condition |= Q(title__icontains=term) | Q(body_text__icontains=term)
    # Bounded: ranked in Python, so only a few hundred candidates are read.
    rows = list(queryset.filter(condition).select_related("category")[:300])
    scored = []
    for row in rows:
        title, text = row.title.lower(), row.body_text.lower()
        score = sum(3.0 * (t in title) + min(text.count(t), 5) * 0.5 for t in terms)
        score += len([t for t in terms if t in title or t in text]) * 2.0  # more distinct words first
        scored.append((score, row))
    scored.sort(key=lambda pair: (-pair[0], pair[1].title, pair[1].pk))
    return [Hit(row, _excerpt(row.body_text, terms), score) for score, row in scored[:limit]]


def _excerpt(text: str, terms: list[str], width: int = 220) -> SafeString:
    lower = text.lower()
    positions = [lower.find(t) for t in terms if t in lower]
    start = max(0, min(positions) - 60) if positions else 0
    piece = text[start : start + width]
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    marked = pattern.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", piece)
    prefix = "… " if start else ""
    suffix = " …" if start + width < len(text) else ""
    return _marked(prefix + " ".join(marked.split()) + suffix)


def _marked(headline: str) -> SafeString:
    text = escape((headline or "").replace("\n", " "))
    return mark_safe(text.replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308 - escaped above
