"""Who may do what through the API (the full matrix is in docs/api.md)."""

from rest_framework import permissions

from tickets.api.authentication import token_organization_id
from tickets.permissions import customer_membership, is_agent


class IsAgentOrCustomer(permissions.BasePermission):
    """Signed-in agents, and customers who belong to an organization."""

    message = "Your account is not an agent and belongs to no organization."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and (is_agent(user) or customer_membership(user) is not None)
        )


class StaffModelPermissions(permissions.DjangoModelPermissions):
    """Reading needs the model's view permission and writing its add/change/delete one; staff only."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user) and super().has_permission(request, view)


class StaffChangePermissions(StaffModelPermissions):
    """For a POST that changes an existing row (e.g. rotating a secret): the model's change permission."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class ChartPermissions(StaffModelPermissions):
    """The response-target chart and calendars: anyone signed in reads them; staff with permission write,
    except through a token limited to one organization (they are every organization's)."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        if token_organization_id(request) is not None:
            self.message = "A token limited to an organization cannot change what every organization shares."
            return False
        return super().has_permission(request, view)
