"""List filters of the agent console."""

from django.contrib import admin
from django.contrib.auth import get_user_model


class AssigneeFilter(admin.SimpleListFilter):
    """Assigned to me, unassigned, or a given agent."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        agents = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        return [("me", "Assigned to me"), ("none", "Unassigned")] + [
            (str(agent.pk), agent.get_full_name() or agent.get_username()) for agent in agents
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset
