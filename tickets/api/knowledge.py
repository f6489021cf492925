"""/api/v1/articles/ (the help center), /api/v1/articles/suggest/ and /api/v1/severity-suggestion/.

Articles: anyone reads the public, published ones (the help center is public, signed in or not); agents
read every article and, with the model's permissions, write them (through `tickets.knowledge`).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from tickets import article_search, knowledge
from tickets.api import serializers as s
from tickets.api.authentication import token_organization_id
from tickets.api.errors import responses
from tickets.api.permissions import IsAgentOrCustomer, StaffModelPermissions
from tickets.api.views import PageSizePagination
from tickets.models import Article, ArticleCategory, Organization
from tickets.permissions import customer_membership, is_agent
from tickets.severity_suggestion import suggest_severity

#: The longest `q` accepted; longer is refused with a 400 naming `q` (a pasted description fits).
QUERY_MAX_LENGTH = 2000


class CategorySlugField(serializers.SlugRelatedField):
    """A category by its slug; text that cannot be a slug is refused as a missing one would be, before
    it reaches the database (PostgreSQL refuses a NUL character in a query with an error)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class ArticleSerializer(serializers.ModelSerializer):
    category = CategorySlugField(
        slug_field="slug", queryset=ArticleCategory.objects.all(), allow_null=True, required=False
    )
    slug = serializers.SlugField(max_length=200, required=False, allow_blank=True)
    body_html = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = (
            "id",
            "slug",
            "title",
            "body",
            "body_html",
            "category",
            "visibility",
            "status",
            "author",
            "created_at",
            "updated_at",
            "url",
        )
        read_only_fields = ("id", "body_html", "author", "created_at", "updated_at", "url")

    def get_url(self, article: Article) -> str:
        return f"/support/articles/{article.slug}/"

    def validate_slug(self, value: str) -> str:
        taken = Article.objects.filter(slug=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if value and taken.exists():
            raise serializers.ValidationError("Another article has this address.")
        return value


class SuggestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    url = serializers.CharField()
    excerpt = serializers.CharField(help_text="Escaped text; the matched words are in <mark> elements.")


class ArticleReadOrStaffWrite(StaffModelPermissions):
    """Reading is open (what each reader sees is decided by the queryset); writing needs the model's
    permissions, staff only."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if token_organization_id(request) is not None:
            self.message = "A token limited to an organization cannot change what every organization shares."
            return False
        return super().has_permission(request, view)


def _query(request) -> str:
    text = request.query_params.get("q")
    if text is None:
        raise ValidationError({"q": ["Give the text to search for."]})
    if len(text) > QUERY_MAX_LENGTH:
        raise ValidationError({"q": [f"At most {QUERY_MAX_LENGTH} characters."]})
    return text


Q_PARAMETER = OpenApiParameter("q", OpenApiTypes.STR, required=True, description="The text to match.")


@extend_schema_view(
    list=extend_schema(
        summary="List help-center articles",
        parameters=[
            OpenApiParameter("category", OpenApiTypes.STR, description="A category's slug."),
            OpenApiParameter("q", OpenApiTypes.STR, description="Full-text search, best match first."),
        ],
        # A page past the end answers 404, as the ticket list's does.
        responses=responses({200: ArticleSerializer(many=True)}, bad_request=True, not_found=True),
    ),
    retrieve=extend_schema(
        summary="An article", responses=responses({200: ArticleSerializer}, not_found=True)
    ),
    create=extend_schema(
        summary="Write an article (staff)", responses=responses({201: ArticleSerializer}, bad_request=True)
    ),
    partial_update=extend_schema(
        summary="Change an article (staff)",
        responses=responses({200: ArticleSerializer}, bad_request=True, not_found=True),
    ),
    destroy=extend_schema(
        summary="Delete an article (staff)", responses=responses({204: None}, not_found=True)
    ),
)
class ArticleViewSet(viewsets.ModelViewSet):
    """Help-center articles: customers and visitors read the public, published ones; agents read all and
    write them."""

    serializer_class = ArticleSerializer
    permission_classes = [ArticleReadOrStaffWrite]
    queryset = Article.objects.none()  # for the permission class's model lookup
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends = []
    pagination_class = PageSizePagination

    def get_queryset(self):
        articles = Article.objects.visible_to(self.request.user).select_related("category")
        category = self.request.query_params.get("category")
        if category:
            articles = articles.filter(category__slug=category[:100])
        return articles.order_by("category__position", "title", "pk")

    def list(self, request, *args, **kwargs):
        text = request.query_params.get("q")
        if text is not None:
            if len(text) > QUERY_MAX_LENGTH:
                raise ValidationError({"q": [f"At most {QUERY_MAX_LENGTH} characters."]})
            hits = article_search.search(self.get_queryset(), text, limit=50)
            page = self.paginate_queryset([hit.article for hit in hits])
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        self._save(Article(), serializer.validated_data)
        serializer.instance = self._saved

    def perform_update(self, serializer):
        self._save(serializer.instance, serializer.validated_data)
        serializer.instance = self._saved

    def _save(self, article: Article, data: dict) -> None:
        for name, value in data.items():
            setattr(article, name, value)
        self._saved = knowledge.article_save(article=article, actor=self.request.user)

    @extend_schema(
        summary="Articles matching a text, best first (suggestions while filing)",
        parameters=[Q_PARAMETER],
        responses=responses({200: SuggestionSerializer(many=True)}, bad_request=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def suggest(self, request):
        text = _query(request)
        hits = article_search.suggest(Article.objects.visible_to(request.user).published(), text)
        return Response(
            [
                {
                    "id": hit.article.pk,
                    "slug": hit.article.slug,
                    "title": hit.article.title,
                    "category": hit.article.category.name if hit.article.category else None,
                    "url": f"/support/articles/{hit.article.slug}/",
                    "excerpt": str(hit.headline),
                }
                for hit in hits
            ]
        )


# --- the severity suggestion --------------------------------------------------------------------------


class SeveritySuggestionRequestSerializer(s.IntakeSerializer):
    """The intake as far as it is filled in: every field optional."""

    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    organization = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Agents: whose support plan the interview urgency counts on (ignored for customers: "
        "their own).",
    )


class SeveritySuggestionSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["S1", "S2", "S3", "S4", "S5"])
    label = serializers.CharField()
    reason = serializers.CharField()
    rule = serializers.CharField(help_text="Which rule decided: a stable key.")


@extend_schema(
    summary="Suggest a severity from the intake",
    request=SeveritySuggestionRequestSerializer,
    responses=responses({200: SeveritySuggestionSerializer}, bad_request=True),
)
@api_view(["POST"])
@permission_classes([IsAgentOrCustomer])
def severity_suggestion(request):
    membership = customer_membership(request.user)
    organization = membership.organization if membership is not None else None
    # A time without an offset is meant in the customer's organization's time zone, as on the portal.
    with timezone.override(organization.zoneinfo if organization else timezone.get_current_timezone()):
        serializer = SeveritySuggestionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    if is_agent(request.user) and data.get("organization"):
        organization = Organization.objects.filter(pk=data["organization"]).first()
        if organization is None:
            raise ValidationError({"organization": ["No such organization."]})
    answers = {
        "subject": data.get("subject", ""),
        "description": data.get("description", ""),
        **s.intake_to_model(data),
    }
    suggestion = suggest_severity(answers, organization=organization)
    return Response(suggestion.as_dict(), status=status.HTTP_200_OK)
