"""The help center's services: rendering an article's Markdown safely, saving articles, "Was this
helpful?" votes and deflections. Searching them is `tickets.article_search`.

Rendering: markdown-it-py (CommonMark, tables and strikethrough) with raw HTML switched off, so HTML
typed into an article is shown as text; then nh3 (the sanitiser the email channel uses) keeps only the
tags and attributes below and http(s)/mailto/relative links, so a `javascript:` link loses its address.
Both steps run when an article is saved; pages show the stored `body_html` and never render twice.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import nh3
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from markdown_it import MarkdownIt

from tickets.models import Article, ArticleVote, Deflection
from tickets.permissions import customer_membership, require_agent

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

#: What an article may contain once rendered.
ALLOWED_TAGS = {
    *("p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "em", "strong", "del"),
    *("ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"),
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

#: A deflection is withdrawn when the customer files a ticket within this time of opening the article.
DEFLECTION_WINDOW = timedelta(hours=1)

_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


def render_markdown(body: str) -> Rendered:
    """An article's Markdown as sanitised HTML, and as plain text (for search and highlighting)."""
    # A heading of level 1 is the page's own title: the article's headings start at level 2.
    raw = _MARKDOWN.render(body or "").replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    text = html.unescape(_TAG.sub(" ", clean))
    text = "\n".join(line.strip() for line in _SPACES.sub(" ", text).splitlines() if line.strip())
    return Rendered(html=clean, text=text)


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = (slugify(title) or "article")[:190].strip("-") or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def article_save(*, article: Article, actor, at: datetime | None = None) -> Article:
    """Create or update an article (agents only): renders its body, stamps the times and the author of a
    new one, and gives it a free slug when it has none. On PostgreSQL the database's trigger updates the
    search vector from what is saved."""
    require_agent(actor, "write help-center articles")
    at = at or timezone.now()
    article.title = " ".join((article.title or "").split())
    if not article.title:
        raise ValidationError({"title": "An article needs a title."})
    if not article.slug:
        article.slug = unique_slug(article.title, exclude_pk=article.pk)
    rendered = render_markdown(article.body)
    article.body_html, article.body_text = rendered.html, rendered.text
    if article.pk is None:
        article.created_at = at
        if article.author_id is None:
            article.author = actor
    article.updated_at = at
    article.full_clean(exclude=["author", "category"], validate_constraints=False)
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError as exc:  # a slug taken between the check and the save
        raise ValidationError({"slug": "Another article has this address."}) from exc
    return article


def article_vote(*, article: Article, helpful: bool, user=None, session_key: str = "", at=None) -> bool:
    """Record a reader's "Was this helpful?" answer; a later answer replaces theirs. Counts are kept on
    the article. False when the reader cannot be told apart (no user, no session)."""
    if not article.is_public and not (user is not None and user.is_staff):
        raise PermissionDenied("This article is not public.")
    at = at or timezone.now()
    who = {"user": user} if user is not None and user.is_authenticated else {"user": None}
    if who["user"] is None:
        if not session_key:
            return False
        who["session_key"] = session_key
    with transaction.atomic():
        Article.objects.select_for_update().filter(pk=article.pk).order_by("pk").first()  # one vote at a time
        vote = ArticleVote.objects.filter(article=article, **who).first()
        counts = {}
        if vote is None:
            ArticleVote.objects.create(article=article, helpful=helpful, voted_at=at, **who)
            counts = {
                "helpful_yes" if helpful else "helpful_no": F("helpful_yes" if helpful else "helpful_no") + 1
            }
        elif vote.helpful != helpful:
            vote.helpful, vote.voted_at = helpful, at
            vote.save(update_fields=["helpful", "voted_at"])
            new, old = ("helpful_yes", "helpful_no") if helpful else ("helpful_no", "helpful_yes")
            counts = {new: F(new) + 1, old: F(old) - 1}
        if counts:
            Article.objects.filter(pk=article.pk).update(**counts)
    return True


def deflection_open(
    *, article: Article, user, query: str = "", at: datetime | None = None
) -> Deflection | None:
    """A customer opened `article` from the suggestions of the new-ticket form: record it (once per
    article and customer within the window). None for anyone but a customer, or a non-public article."""
    membership = customer_membership(user)
    if membership is None or not article.is_public:
        return None
    at = at or timezone.now()
    recent = Deflection.objects.filter(
        article=article, user=user, ticket__isnull=True, opened_at__gte=at - DEFLECTION_WINDOW
    ).first()
    if recent is not None:
        return recent
    return Deflection.objects.create(
        article=article,
        user=user,
        organization_id=membership.organization_id,
        query=" ".join((query or "").split())[:200],
        opened_at=at,
    )


def deflections_withdraw(*, ticket, at: datetime | None = None) -> int:
    """The requester filed `ticket` after opening suggested articles: those did not deflect it."""
    at = at or timezone.now()
    return Deflection.objects.filter(
        user_id=ticket.requester_id, ticket__isnull=True, opened_at__gte=at - DEFLECTION_WINDOW
    ).update(ticket=ticket)
