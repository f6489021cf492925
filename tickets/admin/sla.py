"""The SLA in the agent console: support plans and their charts, calendars and holidays (editable by staff
with permission), on-call contacts (a webhook's signing secret is shown once, when generated or rotated),
and the escalations with each delivery's result (read-only). The models are the SLA engine's (app label
`sla`, so the console's addresses are /admin/sla/…); the pages are the console's."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from helpdesk import webhooks
from helpdesk.timezones import timezone_label
from sla import holiday_rules, ical
from sla.calendars import HolidayRule
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
    SlaPolicy,
)
from tickets.admin.integrations import show_secret_once
from tickets.forms import TimezoneField
from tickets.models import Severity

#: An iCalendar file of days off is small; anything larger is not one.
ICS_MAX_BYTES = 2 * 1024 * 1024


def _target(minutes: int | None, clock: str) -> str:
    if minutes is None:
        return "—"
    hours, rest = divmod(minutes, 60)
    amount = f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{minutes} min"
    return f"{amount} ({'24/7' if clock == '24x7' else 'business'})"


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline shows its labels as column headings only: each input gets its label as
    `aria-label`, so a screen reader names it (axe: "form elements must have labels")."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class Labelled(formset):
            def add_fields(self, form, index):
                super().add_fields(form, index)  # adds the row's "Delete" box too
                for name, field in form.fields.items():
                    field.widget.attrs.setdefault("aria-label", str(field.label or name).capitalize())

        return Labelled


class ResponseTargetInline(LabelledTabularInline):
    model = ResponseTarget
    extra = 0
    min_num = 5
    max_num = 5
    can_delete = False
    fields = (
        "severity",
        "first_response_minutes",
        "first_response_clock",
        "update_minutes",
        "update_clock",
        "resolution_minutes",
        "resolution_clock",
        "warn_at_percent",
        "definition",
    )
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 30})}}

    def get_formset(self, request, obj=None, **kwargs):
        """A new policy starts as a copy of the default policy's chart, every row saved even if untouched
        (a row left as copied is a choice too)."""
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            return formset
        copied = [
            {field: getattr(row, field) for field in self.fields}
            for row in ResponseTarget.objects.filter(policy__is_default=True).order_by("severity")
        ] or [{"severity": severity} for severity in Severity.values]

        class CopyOfTheDefault(formset):
            def __init__(self, *args, **kwargs):
                kwargs.setdefault("initial", copied)
                super().__init__(*args, **kwargs)
                for form in self.forms:
                    form.has_changed = lambda: True
                    form.empty_permitted = False

        return CopyOfTheDefault


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Support plans: each a chart (minutes; empty sets no target) and the calendar it counts on."""

    list_display = ("name", "is_default", "calendar", "organization_count")
    list_select_related = ("calendar",)
    fields = ("name", "is_default", "calendar", "description")
    inlines = [ResponseTargetInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(organization_total=Count("organizations"))

    def get_changeform_initial_data(self, request):
        default = SlaPolicy.objects.filter(is_default=True).values_list("calendar_id", flat=True).first()
        return {"calendar": default, **super().get_changeform_initial_data(request)}

    @admin.display(description="Organizations", ordering="organization_total")
    def organization_count(self, policy: SlaPolicy) -> int:
        return policy.organization_total


@admin.register(ResponseTarget)
class ResponseTargetAdmin(admin.ModelAdmin):
    list_display = ("severity", "policy", "first_response", "update_cadence", "resolution", "warn_at_percent")
    list_filter = ("policy",)
    list_select_related = ("policy",)
    fieldsets = (
        (None, {"fields": ("policy", "severity", "definition", "warn_at_percent")}),
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
        return ("policy", "severity") if obj else ()

    def has_add_permission(self, request) -> bool:
        return False  # rows come with their policy (one per severity, always)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a policy's chart has one row per severity, always


class BusinessHoursInline(LabelledTabularInline):
    model = BusinessHours
    extra = 0


class HolidayInline(LabelledTabularInline):
    model = Holiday
    extra = 0
    verbose_name = "date set by hand"
    verbose_name_plural = "Dates set by hand (days off added, or rule holidays worked)"


class BusinessCalendarForm(forms.ModelForm):
    timezone = TimezoneField()
    holiday_extras = forms.MultipleChoiceField(
        choices=holiday_rules.EXTRA_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Company holidays",
        help_text="Observed every year beside the country's holidays.",
    )

    class Meta:
        model = BusinessCalendar
        fields = (
            "name",
            "timezone",
            "is_default",
            "holiday_country",
            "holiday_subdivision",
            "holiday_extras",
        )

    def clean(self):
        data = super().clean()
        country, subdivision = holiday_rules.split_subdivision(
            data.get("holiday_country", ""), data.get("holiday_subdivision", "")
        )
        for name, message in holiday_rules.check(country, subdivision).items():
            self.add_error(name, message)
        data["holiday_country"], data["holiday_subdivision"] = country, subdivision
        return data


class ImportDaysOffForm(forms.Form):
    file = forms.FileField(
        widget=forms.FileInput(attrs={"accept": ".ics,text/calendar"}),
        label="iCalendar file (.ics)",
        help_text="All-day events become days off set by hand; dates already set are left as they are.",
    )


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ("name", "timezone_name", "is_default", "holiday_rule")
    inlines = [BusinessHoursInline, HolidayInline]
    fieldsets = (
        (None, {"fields": ("name", "timezone", "is_default")}),
        (
            "Holidays by rule, every year",
            {"fields": ("holiday_country", "holiday_subdivision", "holiday_extras", "days_off")},
        ),
    )
    readonly_fields = ("days_off",)

    @admin.display(description="Timezone", ordering="timezone")
    def timezone_name(self, row: BusinessCalendar) -> str:
        return timezone_label(row.timezone)

    @admin.display(description="Holidays by rule")
    def holiday_rule(self, row: BusinessCalendar) -> str:
        parts = [f"{row.holiday_country}-{row.holiday_subdivision}".strip("-")] if row.holiday_country else []
        labels = dict(holiday_rules.EXTRA_CHOICES)
        parts += [labels.get(key, key) for key in row.holiday_extras or ()]
        return ", ".join(parts) or "none"

    @admin.display(description="Days off")
    def days_off(self, row: BusinessCalendar) -> str:
        """This year's and next year's effective days off, and where to import more from."""
        if row.pk is None:
            return "Shown once the calendar is saved."
        today = timezone.localdate()
        rule = HolidayRule.of(row)
        working = set(row.hours.values_list("weekday", flat=True))

        def note(day, source: str) -> str:
            if day.weekday() not in working:
                return " (not a working day: changes nothing)"
            return " (added by hand)" if source == "added" else ""

        lines = format_html_join(
            "",
            "<li>{} {}{}</li>",
            (
                (f"{day:%a %d %b %Y}", name, note(day, source))
                for year in (today.year, today.year + 1)
                for day, name, source, _pk in rule.days_off(year)
            ),
        )
        link = reverse("admin:sla_businesscalendar_import_ics", args=[row.pk])
        return format_html(
            '<ul class="days-off">{}</ul><p><a href="{}">Import days off from an iCalendar file…</a></p>',
            lines,
            link,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_ics_view)
        return [
            path("<int:object_id>/import-ics/", view, name="sla_businesscalendar_import_ics"),
            *super().get_urls(),
        ]

    def import_ics_view(self, request, object_id: int):
        calendar = self.get_object(request, str(object_id))
        if calendar is None:
            raise Http404("No such calendar.")
        if not self.has_change_permission(request, calendar):
            raise PermissionDenied
        form = ImportDaysOffForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > ICS_MAX_BYTES:
                form.add_error("file", f"The file is larger than {ICS_MAX_BYTES // 1024} KB.")
            else:
                try:
                    result = ical.import_days_off(calendar=calendar, data=upload.read())
                except ical.InvalidCalendarFile as error:
                    form.add_error("file", str(error))
                else:
                    self.message_user(request, result.summary(), messages.SUCCESS)
                    return redirect("admin:sla_businesscalendar_change", calendar.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": calendar,
            "title": f"Import days off into {calendar.name}",
            "form": form,
        }
        return TemplateResponse(request, "admin/sla/businesscalendar/import_ics.html", context)


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
