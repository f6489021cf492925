"""The help center's pages, readable without signing in: the articles by category with a ranked,
highlighted search (/support/articles/), an article with "Was this helpful?" (/support/articles/<slug>/),
and the satisfaction page the resolution email's links open (/support/rate/<token>/).

Customers and visitors see public, published articles; agents (signed in to the console) also see the
internal ones and drafts, marked as such. An article opened from the new-ticket form's suggestions
(`?from=new-ticket`) by a customer records a deflection (`tickets.knowledge.deflection_open`).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tickets import article_search, knowledge, satisfaction
from tickets.models import Article, ArticleCategory, Rating, SatisfactionRating, Ticket
from tickets.permissions import is_agent

#: A search box's text longer than this is cut (the search reads its first words only anyway).
QUERY_MAX_LENGTH = 200


def _articles(request):
    return Article.objects.visible_to(request.user)


@require_safe
def article_list(request):
    """The categories and their articles, or the search's results best first."""
    query = (request.GET.get("q") or "")[:QUERY_MAX_LENGTH].strip()
    category_slug = (request.GET.get("category") or "")[:100]
    articles = _articles(request).only("title", "slug", "category_id", "visibility", "status", "updated_at")
    category = ArticleCategory.objects.filter(slug=category_slug).first() if category_slug else None
    if category_slug and category is None:
        raise Http404("No such category.")
    if category is not None:
        articles = articles.filter(category=category)
    hits = None
    if query:
        searched = _articles(request).filter(category=category) if category else _articles(request)
        hits = article_search.search(searched, query)
    categories = ArticleCategory.objects.prefetch_related(
        Prefetch("articles", queryset=articles.order_by("title"), to_attr="shown")
    )
    if category is not None:
        categories = categories.filter(pk=category.pk)
    return render(
        request,
        "portal/help_center.html",
        {
            "query": query,
            "hits": hits,
            "categories": [c for c in categories if c.shown],
            "uncategorised": []
            if category
            else list(articles.filter(category__isnull=True).order_by("title")),
            "category": category,
        },
    )


@require_safe
def article_detail(request, slug: str):
    article = _articles(request).select_related("category", "author").filter(slug=slug[:200]).first()
    if article is None:
        raise Http404("No such article.")
    if request.GET.get("from") == "new-ticket":
        knowledge.deflection_open(article=article, user=request.user, query=request.GET.get("q", ""))
    related = []
    if article.category_id:
        related = list(
            _articles(request)
            .filter(category_id=article.category_id)
            .exclude(pk=article.pk)
            .only("title", "slug")
            .order_by("title")[:5]
        )
    vote = None
    if request.user.is_authenticated:
        vote = article.votes.filter(user=request.user).first()
    elif request.session.session_key:
        vote = article.votes.filter(user__isnull=True, session_key=request.session.session_key).first()
    return render(
        request,
        "portal/article.html",
        {"article": article, "related": related, "vote": vote, "agent_view": is_agent(request.user)},
    )


@require_POST
def article_vote(request, slug: str):
    """ "Was this helpful?": yes or no, one answer per reader (a later one replaces it)."""
    article = Article.objects.filter(slug=slug[:200]).first()
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    if article is None or not (article.is_public or is_agent(request.user)):
        raise Http404("No such article.")
    if helpful is None:
        messages.error(request, "Choose yes or no.")
        return redirect("support:article", slug=article.slug)
    if not request.user.is_authenticated and not request.session.session_key:
        request.session.save()  # a reader without an account is told apart by their session
    user = request.user if request.user.is_authenticated else None
    knowledge.article_vote(
        article=article, helpful=helpful, user=user, session_key=request.session.session_key or ""
    )
    messages.success(request, "Thanks for your feedback.")
    return redirect("support:article", slug=article.slug)


# --- satisfaction by the email's links ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def rate(request, token: str):
    """The page a resolution email's good/bad link opens, without signing in. Opening it shows the rating
    chosen; the page's script sends it at once (one click for a person; a mail scanner that fetches links
    without running scripts rates nothing), and the comment can follow. A link that is forged, expired or
    for an earlier resolution changes nothing and says why."""
    try:
        claim = satisfaction.read_token(token[:1000])
    except ValidationError as exc:
        return _link_refused(request, exc)
    ticket = Ticket.objects.filter(pk=claim.ticket_id).only("pk", "subject", "resolved_at", "status").first()
    if ticket is None:
        return _link_refused(request, ValidationError({"token": "This link is not valid."}))
    recorded = None
    if request.method == "POST":
        rating = request.POST.get("rating") or claim.rating
        comment = request.POST.get("comment") if "comment" in request.POST else None
        try:
            recorded = satisfaction.rate_by_link(claim=claim, rating=rating, comment=comment)
        except ValidationError as exc:
            if request.headers.get("Accept") == "application/json":
                return JsonResponse(exc.message_dict, status=400)
            return _link_refused(request, exc)
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"rating": recorded.rating, "comment": recorded.comment})
        messages.success(request, "Thank you: your rating was recorded.")
        return redirect("support:rate", token=token)
    if ticket.resolved_at is not None:
        recorded = SatisfactionRating.objects.filter(ticket=ticket, resolved_at=ticket.resolved_at).first()
    return render(
        request,
        "portal/rate.html",
        {
            "ticket": ticket,
            "rating": claim.rating,
            "recorded": recorded,
            "ratings": Rating.choices,
            "comment_max": satisfaction.COMMENT_MAX_LENGTH,
        },
    )


def _link_refused(request, exc: ValidationError):
    problems = exc.message_dict if hasattr(exc, "error_dict") else {"token": exc.messages}
    text = " ".join(message for messages_ in problems.values() for message in messages_)
    return render(request, "portal/rate.html", {"refused": text}, status=400)


def portal_rate(request, ticket, rating: str, comment: str | None) -> None:
    """The ticket page's banner (portal/views.py): the signed-in requester rates their ticket."""
    try:
        satisfaction.satisfaction_rate(ticket=ticket, actor=request.user, rating=rating, comment=comment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        raise Http404("No such ticket.") from exc
    else:
        messages.success(request, "Thank you: your rating was recorded.")
