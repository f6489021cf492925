"""The SLA in the agent console: the chart, calendars and holidays (editable by staff with permission),
on-call contacts (a webhook's signing secret is shown once, when generated or rotated), and the escalations
with each delivery's result (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import Count, Q

from helpdesk import webhooks
from sla.models import (
    BusinessCalendar,
    BusinessHours,
    ContactKind,
    DeliveryStatus,
    Escalation,
    EscalationContact,
    EscalationDelivery,
    Holiday,
    ResponseTarget,
)
from tickets.admin.integrations import show_secret_once


def _target(minutes: int | None, clock: str) -> str:
    if minutes is None:
        return "—"
    hours, rest = divmod(minutes, 60)
    amount = f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{minutes} min"
    return f"{amount} ({'24/7' if clock == '24x7' else 'business'})"


@admin.register(ResponseTarget)
class ResponseTargetAdmin(admin.ModelAdmin):
    list_display = ("severity", "first_response", "update_cadence", "resolution", "warn_at_percent")
    fieldsets = (
        (None, {"fields": ("severity", "definition", "warn_at_percent")}),
        ("First response (acknowledge)", {"fields": (("first_response_minutes", "first_response_clock"),)}),
        ("Update cadence", {"fields": (("update_minutes", "update_clock"),)}),
        ("Resolution (workaround)", {"fields": (("resolution_minutes", "resolution_clock"),)}),
    )

    @admin.display(description="First response")
    def first_response(self, row: ResponseTarget) -> str:
        return _target(row.first_response_minutes, row.first_response_clock)

    @admin.display(description="Update cadence")
    def update_cadence(self, row: ResponseTarget) -> str:
        return _target(row.update_minutes, row.update_clock)

    @admin.display(description="Resolution")
    def resolution(self, row: ResponseTarget) -> str:
        return _target(row.resolution_minutes, row.resolution_clock)

    def get_readonly_fields(self, request, obj=None):
        return ("severity",) if obj else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the chart has one row per severity, always


class BusinessHoursInline(admin.TabularInline):
    model = BusinessHours
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "is_default")
    inlines = [BusinessHoursInline, HolidayInline]


@admin.register(EscalationContact)
class EscalationContactAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "kind", "email", "url", "on_page", "on_at_risk", "on_breach", "active")
    list_filter = ("kind", "active", "on_page", "on_breach")
    # Never the secret (not even read-only, as agents see it): a webhook's is generated when it is
    # first saved, shown once, and replaced by "Rotate secret".
    fieldsets = (
        (None, {"fields": ("name", "kind", "active")}),
        ("Address", {"fields": ("email", "url", "timeout_seconds", "max_attempts")}),
        ("Receives", {"fields": ("on_page", "on_at_risk", "on_breach")}),
    )
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        generated = obj.kind == ContactKind.WEBHOOK and not obj.secret
        if generated:
            obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)
        if generated:
            show_secret_once(self, request, obj, obj.secret)

    @admin.action(description="Rotate secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for contact in queryset.filter(kind=ContactKind.WEBHOOK).order_by("pk"):
            show_secret_once(self, request, contact, contact.rotate_secret())


class DeliveryInline(admin.TabularInline):
    model = EscalationDelivery
    extra = 0
    can_delete = False
    fields = ("address", "kind", "status", "attempts", "response_code", "last_error", "delivered_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "ticket", "level", "metric", "severity", "delivery", "completed_at")
    list_filter = ("level", "metric", "severity")
    list_select_related = ("ticket",)
    search_fields = ("=ticket__id",)
    inlines = [DeliveryInline]
    show_full_result_count = False
    readonly_fields = (
        "ticket",
        "metric",
        "level",
        "cycle",
        "severity",
        "created_at",
        "enqueued_at",
        "completed_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
                failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
                total=Count("deliveries"),
            )
        )

    @admin.display(description="Delivered")
    def delivery(self, escalation) -> str:
        text = f"{escalation.sent}/{escalation.total} sent"
        return f"{text}, {escalation.failed} failed" if escalation.failed else text

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
