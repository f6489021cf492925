"""The help center in the console: articles (Markdown with a live preview, rendered and sanitised as the
portal shows them), categories, and the satisfaction ratings (read-only).

Two small JSON endpoints under the article admin:
- `preview/` (POST `body`): the Markdown rendered and sanitised, for the editor's live preview;
- `links/?q=` the public, published articles matching a text, each with its absolute address, for the
  "Insert article link" button of the ticket page's reply box (tickets/static/tickets/article_links.js).

`TicketSelfService` adds to the ticket page the severity the intake suggested beside the one chosen, and
the customer's satisfaction rating.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.loader import render_to_string
from django.urls import path
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from tickets import article_search, knowledge
from tickets.models import Article, ArticleCategory, SatisfactionRating, Ticket
from tickets.templatetags import self_service

EDITOR_HELP = (
    "Markdown: **bold**, *italic*, [links](https://…), lists, tables, ## headings. HTML is shown as text. "
    "The preview below shows the article as customers will see it."
)
#: The longest Markdown the preview renders (an article is rarely a tenth of this).
PREVIEW_MAX_CHARS = 200_000


@admin.register(ArticleCategory)
class ArticleCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "visibility", "status", "updated_at", "helpful_yes", "helpful_no")
    list_filter = ("status", "visibility", "category")
    list_select_related = ("category",)
    search_fields = ("title", "body")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("author", "created_at", "updated_at", "helpful_yes", "helpful_no", "public_link")
    fieldsets = (
        (None, {"fields": ("title", "slug", "category", ("visibility", "status"))}),
        (
            "Text",
            {
                "fields": ("body",),
                "description": EDITOR_HELP,
            },
        ),
        (
            "About",
            {"fields": ("public_link", "author", "created_at", "updated_at", ("helpful_yes", "helpful_no"))},
        ),
    )

    class Media:
        css = {"all": ("tickets/admin.css",)}
        js = ("tickets/article_preview.js",)

    @admin.display(description="Address")
    def public_link(self, article: Article) -> str:
        if not article.pk:
            return "—"
        return format_html(
            '<a href="/support/articles/{}/">/support/articles/{}/</a>', article.slug, article.slug
        )

    def save_model(self, request, obj, form, change):
        knowledge.article_save(article=obj, actor=request.user)

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="tickets_article_preview"),
            path("links/", self.admin_site.admin_view(self.links_view), name="tickets_article_links"),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        return require_POST(self._preview)(request)

    def _preview(self, request):
        if not self.has_change_permission(request) and not self.has_add_permission(request):
            raise PermissionDenied
        body = request.POST.get("body", "")
        if len(body) > PREVIEW_MAX_CHARS:
            return JsonResponse({"body": [f"At most {PREVIEW_MAX_CHARS} characters."]}, status=400)
        return JsonResponse({"html": knowledge.render_markdown(body).html})

    def links_view(self, request):
        return require_GET(self._links)(request)

    def _links(self, request):
        """Public, published articles only: a link put in a reply must open for the customer."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        text = (request.GET.get("q") or "")[:500]
        articles = Article.objects.filter(
            visibility=Article.Visibility.PUBLIC, status=Article.Status.PUBLISHED
        )
        if text.strip():
            rows = [hit.article for hit in article_search.search(articles, text, limit=8)]
        else:
            rows = list(articles.order_by("-updated_at")[:8])
        base = settings.SITE_URL.rstrip("/")
        return JsonResponse(
            {"results": [{"title": a.title, "url": f"{base}/support/articles/{a.slug}/"} for a in rows]}
        )


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(admin.ModelAdmin):
    """What customers said of resolutions: read-only (a rating is the customer's, not ours to edit)."""

    list_display = ("ticket", "rating", "comment", "severity", "agent", "rated_by", "rated_at")
    list_filter = ("rating", "severity", "agent")
    list_select_related = ("ticket", "agent", "rated_by")
    search_fields = ("ticket__subject", "rated_by__email", "rated_by__username", "comment")
    search_help_text = "Ticket subject, customer email or user name, or comment."
    date_hierarchy = "rated_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TicketSelfService:
    """Read-only fields for the ticket page (mixed into TicketAdmin): the suggestion and the rating."""

    @admin.display(description="Suggested severity")
    def severity_suggestion(self, ticket: Ticket) -> str:
        if not ticket.suggested_severity:
            return "—"
        html = render_to_string(
            "admin/tickets/self_service/severity_suggestion.html", self_service.severity_suggestion(ticket)
        )
        return mark_safe(html.strip())  # noqa: S308 - an autoescaped template

    @admin.display(description="Customer satisfaction")
    def satisfaction(self, ticket: Ticket) -> str:
        html = render_to_string(
            "admin/tickets/self_service/satisfaction.html", self_service.satisfaction_rating(ticket)
        )
        return mark_safe(html.strip()) if html.strip() else "—"  # noqa: S308 - an autoescaped template
