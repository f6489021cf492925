"""Organizations, their customers, and the customer side of the user admin."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm

from helpdesk.timezones import timezone_label
from tickets.forms import TimezoneField
from tickets.models import Membership, Organization
from tickets.services import organization_apply_sla_policy
from tickets.services.people import user_email_check

User = get_user_model()


class MembershipInline(admin.StackedInline):  # stacked: each field has its label (accessibility)
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


class OrganizationForm(forms.ModelForm):
    timezone = TimezoneField()

    class Meta:
        model = Organization
        fields = ("name", "timezone", "sla_policy")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ("name", "timezone_name", "sla_policy", "created_at")
    list_select_related = ("sla_policy",)
    search_fields = ("name",)
    list_filter = ("sla_policy", "timezone")
    fields = ("name", "timezone", "sla_policy")
    inlines = [MembershipInline]
    actions = ["apply_sla_policy"]

    @admin.display(description="Timezone", ordering="timezone")
    def timezone_name(self, organization: Organization) -> str:
        return timezone_label(organization.timezone)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "sla_policy" in form.changed_data:
            self.message_user(
                request,
                f"New tickets of {obj} count on its new SLA policy. Its open tickets keep theirs until you "
                "select it in the list and run “Re-target open tickets on the organization's SLA policy”.",
                messages.INFO,
            )

    @admin.action(
        description="Re-target open tickets on the organization's SLA policy", permissions=["change"]
    )
    def apply_sla_policy(self, request, queryset):
        for organization in queryset.order_by("pk"):
            changed = organization_apply_sla_policy(organization=organization, actor=request.user)
            self.message_user(
                request,
                f"{organization}: {changed} open ticket{'s' if changed != 1 else ''} re-targeted on "
                f"{organization.sla_policy or 'the default policy'} (time already elapsed kept).",
                messages.SUCCESS,
            )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "created_at")
    list_filter = ("role", "organization")
    list_select_related = ("user", "organization")
    search_fields = ("user__username", "user__email", "organization__name")
    autocomplete_fields = ("user", "organization")


class CustomerMembershipInline(admin.StackedInline):
    model = Membership
    can_delete = True
    extra = 0
    max_num = 1
    verbose_name = "Customer of"
    verbose_name_plural = "Customer of (leave empty for agents)"


class HelpdeskUserChangeForm(UserChangeForm):
    """One account per email address, as everywhere (tickets.services.people). The staff flag and the
    "Customer of" inline are checked together by Membership.clean: an agent cannot be a customer."""

    def clean_email(self) -> str:
        email = self.cleaned_data.get("email", "")
        user_email_check(email=email, user=self.instance)
        return email


admin.site.unregister(User)


@admin.register(User)
class HelpdeskUserAdmin(UserAdmin):
    form = HelpdeskUserChangeForm
    inlines = [CustomerMembershipInline]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "organization")
    list_select_related = ("membership__organization",)
    # Plain labelled lists: the admin's two-pane picker marks up its icons with ARIA that axe refuses.
    filter_horizontal = ()

    @admin.display(description="Organization", ordering="membership__organization__name")
    def organization(self, user):
        membership = getattr(user, "membership", None)
        return membership.organization if membership else "—"
