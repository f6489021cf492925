"""Integrations in the console: API tokens (the key is shown once, at creation) and webhook subscriptions
with their delivery log (the signing secret is shown once, when generated or rotated)."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from helpdesk import webhooks
from tickets.models.integrations import ApiToken, WebhookDelivery, WebhookEvent, WebhookSubscription
from tickets.services.integrations import webhook_subscription_update


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name", "organization")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = (
        "name",
        "prefix",
        "user",
        "organization",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("organization",)
    list_select_related = ("user", "organization")
    search_fields = ("name", "prefix", "user__username")
    autocomplete_fields = ("user",)
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ("user", "prefix", "created_at", "last_used_at", "revoked_at") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, key = ApiToken.objects.issue(user=obj.user, name=obj.name, organization=obj.organization)
        obj.pk = token.pk
        obj.refresh_from_db()
        self.message_user(
            request, f"The token's key (shown only now; store it safely): {key}", messages.WARNING
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "event",
        "dedupe_key",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "delivered_at",
    )
    readonly_fields = fields
    ordering = ("-created_at",)
    max_num = 0


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        # Never the secret: it is generated at creation, shown once, and replaced by "Rotate secret".
        fields = ("url", "events", "organization", "active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("url", "organization", "active", "consecutive_failures", "disabled_reason", "created_at")
    list_filter = ("active", "organization")
    readonly_fields = ("consecutive_failures", "disabled_reason", "created_at")
    inlines = [DeliveryInline]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if change:
            # Only what the form changed: an "active" box left ticked is no re-enabling.
            webhook_subscription_update(
                subscription=obj, changes={name: form.cleaned_data[name] for name in form.changed_data}
            )
            return
        obj.created_by = request.user
        obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)
        show_secret_once(self, request, obj, obj.secret)

    @admin.action(description="Rotate secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for subscription in queryset.order_by("pk"):
            show_secret_once(self, request, subscription, subscription.rotate_secret())


def show_secret_once(model_admin: admin.ModelAdmin, request, obj, secret: str) -> None:
    """Tell the user who generated a signing secret what it is: the only time it is displayed."""
    model_admin.message_user(
        request,
        f"The signing secret of “{obj}” (shown only now; give it to the receiver): {secret}",
        messages.WARNING,
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event",
        "subscription",
        "status",
        "attempts",
        "response_code",
        "delivered_at",
    )
    list_filter = ("status", "event")
    list_select_related = ("subscription",)
    show_full_result_count = False
    readonly_fields = (
        "subscription",
        "event",
        "dedupe_key",
        "ticket",
        "payload",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    )
    exclude = ("data",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
