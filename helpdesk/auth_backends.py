"""Authentication backends."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class SignInThrottleBackend(AxesStandaloneBackend):
    """django-axes' brute-force lockout for sign-ins made over HTTP (the rules: helpdesk/lockouts.py).

    Every way in (the portal's and the console's forms, the API's token endpoint) authenticates through
    it, so each is locked out alike, on the client's address (helpdesk/clients.py).

    A call to `authenticate()` without a request (a management command, Django's test client) has no
    client to throttle; axes would refuse it outright, so it is left to the next backend.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class PermissionsBackend:
    """Reads a user's permissions, their own and their groups', in one query, into the cache where Django's
    ModelBackend keeps them (`_perm_cache` on the user object: once per request).

    Every console page asks for them (the admin's app list, each ModelAdmin's has_*_permission); Django's
    ModelBackend reads them in two queries. Listed before it, this backend answers from the same set and
    leaves ModelBackend a full cache: signing in and the sessions stay ModelBackend's (this one
    authenticates nobody, and has no `get_user`, so no session or test client names it).
    """

    def authenticate(self, request, **credentials):
        return None

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            granted = Permission.objects.all()
            if not user_obj.is_superuser:
                granted = granted.filter(Q(user=user_obj) | Q(group__user=user_obj))
            rows = granted.order_by().values_list("content_type__app_label", "codename").distinct()
            user_obj._perm_cache = {f"{app_label}.{codename}" for app_label, codename in rows}
        return user_obj._perm_cache

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return any(perm.partition(".")[0] == app_label for perm in self.get_all_permissions(user_obj))
