"""The help center: articles in Markdown, grouped in categories, public or for agents only, draft or
published; what readers said of them ("Was this helpful?") and the deflections (an article opened from a
suggestion while filing, and no ticket filed after it).

`body_html` and `body_text` are derived from `body` when an article is saved through
`tickets.knowledge.article_save` (rendered, sanitised, and flattened for search and highlighting); on
PostgreSQL a trigger keeps `search_vector` (title weighted above the text) from them, with a GIN index
(migration 0017). Nothing renders `body` anywhere else.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q

from tickets.permissions import is_agent


class ArticleCategory(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Categories are listed in this order.")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "article categories"

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet):
    def published(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.PUBLISHED)

    def visible_to(self, user) -> ArticleQuerySet:
        """Agents read every article, drafts and internal ones included; everyone else (customers and
        visitors who have not signed in) the public, published ones."""
        if user is not None and is_agent(user):
            return self
        return self.filter(visibility=Article.Visibility.PUBLIC, status=Article.Status.PUBLISHED)


class Article(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (customers and visitors)"
        INTERNAL = "internal", "Internal (agents only)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True, help_text="Its address: /support/articles/<slug>/.")
    body = models.TextField(help_text="Markdown. Raw HTML is shown as text; links may be http(s) or mailto.")
    category = models.ForeignKey(
        ArticleCategory, on_delete=models.PROTECT, related_name="articles", null=True, blank=True
    )
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Derived from `body` by tickets.knowledge when saved: never edited by hand.
    body_html = models.TextField(editable=False, default="")
    body_text = models.TextField(editable=False, default="")
    search_vector = SearchVectorField(null=True, editable=False)
    helpful_yes = models.PositiveIntegerField(default=0, editable=False)
    helpful_no = models.PositiveIntegerField(default=0, editable=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["category__position", "title"]
        indexes = [
            models.Index(
                fields=["category", "title"],
                condition=Q(status="published", visibility="public"),
                name="article_public_by_category",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published"]), name="article_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(visibility__in=["public", "internal"]), name="article_visibility_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC and self.status == self.Status.PUBLISHED


class ArticleVote(models.Model):
    """One reader's answer to "Was this helpful?" (a later answer replaces it). Signed-in readers are
    told apart by user, others by their session."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    session_key = models.CharField(max_length=64, blank=True)
    helpful = models.BooleanField()
    voted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "user"], condition=Q(user__isnull=False), name="one_vote_per_user"
            ),
            models.UniqueConstraint(
                fields=["article", "session_key"], condition=Q(user__isnull=True), name="one_vote_per_session"
            ),
        ]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.article_id}"


class Deflection(models.Model):
    """A customer opened an article suggested while filing. It counts as a deflection unless they filed a
    ticket soon after (`ticket` then names it: the article did not answer)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="deflections")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        "tickets.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    query = models.CharField(max_length=200, blank=True)
    opened_at = models.DateTimeField()
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["opened_at"], name="deflection_opened"),
            models.Index(fields=["user", "opened_at"], name="deflection_user_opened"),
        ]

    def __str__(self) -> str:
        return f"Article {self.article_id} opened by {self.user_id}"

    @property
    def deflected(self) -> bool:
        return self.ticket_id is None
