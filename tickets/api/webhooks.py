"""/api/v1/webhooks/: integrations' outgoing webhook subscriptions.

The signing secret is write-only. A client may choose it (16–200 characters) or leave it out and have one
generated; a generated secret is in the create response and in the answer to `rotate-secret`, and nowhere
else, ever. The URL must be one the helpdesk may send to (helpdesk.egress). A token limited to an
organization sees its subscriptions' failures only as "delivery failed": the detail (refused, timed out,
an HTTP status) would let it map what answers where; staff see it, and the console's delivery log.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk import egress, webhooks
from tickets.api.authentication import token_organization_id
from tickets.api.errors import responses
from tickets.api.permissions import StaffChangePermissions, StaffModelPermissions
from tickets.api.views import PageSizePagination
from tickets.models.integrations import WebhookEvent, WebhookSubscription
from tickets.services.integrations import webhook_subscription_update

#: What a token limited to an organization reads instead of a disabled subscription's last error.
GENERIC_DISABLED_REASON = "Disabled after repeated failed deliveries (delivery failed)."


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=16,
        max_length=200,
        style={"input_type": "password"},
        help_text="Write-only. Leave it out when creating to have one generated and returned once.",
    )

    class Meta:
        model = WebhookSubscription
        fields = (
            "id",
            "url",
            "secret",
            "events",
            "organization",
            "active",
            "consecutive_failures",
            "disabled_reason",
            "created_at",
        )
        read_only_fields = ("id", "consecutive_failures", "disabled_reason", "created_at")

    def validate_url(self, value: str) -> str:
        egress.check_url(value)  # a django ValidationError: DRF answers 400 naming `url`
        return value

    def to_representation(self, instance: WebhookSubscription) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if data.get("disabled_reason") and request and token_organization_id(request) is not None:
            data["disabled_reason"] = GENERIC_DISABLED_REASON
        return data


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """The create response: the subscription, with the secret when the helpdesk generated it."""

    # Not read_only: the schema would call a read-only field required, and this one is there only when
    # the secret was generated. The class describes a response only; it never reads input.
    secret = serializers.CharField(
        required=False,
        help_text="Only when it was generated (none was sent): the only time it is returned.",
    )


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text="The new signing secret, returned only now.")


@extend_schema_view(
    list=extend_schema(responses=responses({200: WebhookSubscriptionSerializer(many=True)}, not_found=True)),
    retrieve=extend_schema(responses=responses({200: WebhookSubscriptionSerializer}, not_found=True)),
    create=extend_schema(responses=responses({201: WebhookSubscriptionCreatedSerializer}, bad_request=True)),
    update=extend_schema(
        responses=responses({200: WebhookSubscriptionSerializer}, bad_request=True, not_found=True)
    ),
    partial_update=extend_schema(
        responses=responses({200: WebhookSubscriptionSerializer}, bad_request=True, not_found=True)
    ),
    destroy=extend_schema(responses=responses({204: None}, not_found=True)),
)
class WebhookSubscriptionViewSet(viewsets.ModelViewSet):
    """Outgoing webhooks: POSTs signed with HMAC-SHA256 over "<timestamp>.<body>" (see docs/api.md)."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [StaffModelPermissions]
    pagination_class = PageSizePagination
    queryset = WebhookSubscription.objects.all()

    def get_queryset(self):
        subscriptions = WebhookSubscription.objects.order_by("pk")
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            subscriptions = subscriptions.filter(organization_id=organization_id)
        return subscriptions

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        generated = "secret" not in serializer.validated_data
        if generated:
            serializer.validated_data["secret"] = webhooks.new_secret()
        self.perform_create(serializer)
        body = dict(serializer.data)
        if generated:
            body["secret"] = serializer.instance.secret  # the only time it is returned
        return Response(body, status=status.HTTP_201_CREATED, headers=self.get_success_headers(body))

    def perform_create(self, serializer):
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            serializer.save(created_by=self.request.user, organization_id=organization_id)
        else:
            serializer.save(created_by=self.request.user)

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        # An organization-limited token's subscriptions stay its organization's (null would mean all).
        organization_id = token_organization_id(self.request)
        if organization_id is not None:
            changes.pop("organization", None)
            changes["organization_id"] = organization_id
        serializer.instance = webhook_subscription_update(subscription=serializer.instance, changes=changes)

    @extend_schema(request=None, responses=responses({200: WebhookSecretSerializer}, not_found=True))
    @action(
        detail=True,
        methods=["post"],
        url_path="rotate-secret",
        permission_classes=[StaffChangePermissions],
        serializer_class=WebhookSecretSerializer,
    )
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret with a generated one, returned only in this answer; the old one no
        longer signs anything."""
        subscription = self.get_object()
        return Response({"secret": subscription.rotate_secret()})
