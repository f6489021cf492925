"""The audit trail in the console: readable by agents, written only by the services, never edited."""

from django.contrib import admin

from tickets.models import Event, InboundEmail


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "from_value", "to_value", "actor")
    list_filter = ("kind",)
    list_select_related = ("ticket", "actor")
    search_fields = ("=ticket__id",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    """Every mail the fetcher processed: filed, threaded, rejected or quarantined (with the reason)."""

    list_display = ("received_at", "from_address", "subject", "status", "ticket", "reason")
    list_filter = ("status",)
    list_select_related = ("ticket",)
    search_fields = ("from_address", "subject", "message_id")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
