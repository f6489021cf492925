"""/api/v1/auth/tokens/: a user's own API tokens, to see which exist and revoke the ones not needed.

The key is never shown again (only its hash is stored). A token limited to an organization sees and
revokes only tokens limited to that same organization: it acts for one customer company, not for its
user's other integrations.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from tickets.api.authentication import token_organization_id
from tickets.api.errors import responses
from tickets.api.views import PageSizePagination
from tickets.models.integrations import ApiToken
from tickets.services.tokens import api_token_revoke


class ApiTokenSerializer(serializers.ModelSerializer):
    expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it stops working (API_TOKEN_TTL_DAYS); null: never."
    )

    class Meta:
        model = ApiToken
        fields = ("id", "name", "organization", "created_at", "last_used_at", "expires_at")
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="Your API tokens",
        description="The tokens issued to you that are not revoked (expired ones included); never the key.",
        responses=responses({200: ApiTokenSerializer(many=True)}, not_found=True),
    ),
    destroy=extend_schema(
        summary="Revoke one of your API tokens",
        description="It answers 401 from now on. The token making this request may revoke itself.",
        responses=responses({204: None}, not_found=True),
    ),
)
class ApiTokenViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = PageSizePagination
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        tokens = ApiToken.objects.filter(user=self.request.user, revoked_at__isnull=True)
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            tokens = tokens.filter(organization_id=organization_id)
        return tokens.order_by("-created_at", "-pk")

    def perform_destroy(self, instance: ApiToken) -> None:
        api_token_revoke(token=instance)
