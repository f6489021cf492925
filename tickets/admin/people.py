"""Organizations, their customers, and the customer side of the user admin."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm

from tickets.models import Membership, Organization
from tickets.services.people import user_email_check

User = get_user_model()


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "timezone", "created_at")
    search_fields = ("name",)
    list_filter = ("timezone",)
    inlines = [MembershipInline]


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

    @admin.display(description="Organization", ordering="membership__organization__name")
    def organization(self, user):
        membership = getattr(user, "membership", None)
        return membership.organization if membership else "—"
