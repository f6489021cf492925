"""The audit trail in the console: readable by agents, written only by the services, never edited."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from tickets.channels.email_release import inbound_email_release
from tickets.models import Event, InboundEmail
from tickets.permissions import is_agent


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "change", "actor")
    list_filter = ("kind",)
    list_select_related = ("ticket", "actor")
    search_fields = ("=ticket__id",)
    show_full_result_count = False

    @admin.display(description="Change")
    def change(self, event: Event) -> str:
        return event.change_display or "—"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    """Every mail the fetcher processed: filed, threaded, rejected or quarantined (with the reason), and
    the receiving server's verdict on its sender. A mail held for sender authentication can be released."""

    list_display = (
        "received_at",
        "from_address",
        "subject",
        "status",
        "sender_authentication",
        "ticket",
        "reason",
    )
    list_filter = ("status", "auth_result")
    list_select_related = ("ticket",)
    search_fields = ("from_address", "subject", "message_id")
    show_full_result_count = False
    exclude = ("held_mail",)
    actions = ["release"]

    @admin.display(description="sender authentication", ordering="auth_result")
    def sender_authentication(self, obj: InboundEmail) -> str:
        return obj.auth_details or obj.auth_result or "-"

    def has_release_permission(self, request) -> bool:
        # The console is for staff already; a release posts as whoever the mail names, so agents only.
        return is_agent(request.user) and self.has_view_permission(request)

    @admin.action(
        description="Release held mail (skip only the sender authentication check)", permissions=["release"]
    )
    def release(self, request, queryset):
        released, skipped = 0, []
        for inbound in queryset.order_by("received_at", "pk"):
            try:
                result = inbound_email_release(inbound_email=inbound, actor=request.user)
            except ValidationError as exc:
                skipped.append(" ".join(exc.messages))
                continue
            released += 1
            self.message_user(
                request, f"{result.message_id}: {result.status}. {result.reason}", messages.INFO
            )
        if released:
            self.message_user(request, f"Released {released} held mail(s).", messages.SUCCESS)
        for reason in skipped:
            self.message_user(request, f"Not released: {reason}", messages.WARNING)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
