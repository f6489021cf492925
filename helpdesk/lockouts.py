"""Sign-in lockouts: django-axes' per (user name, address) lockout, plus a per-address one against
password spraying.

Axes locks a user name from one address after AXES_FAILURE_LIMIT failures. An attacker trying one
password on many user names never reaches that; SIGNIN_FAILURE_LIMIT_PER_ADDRESS counts failures from
one address across every user name, over the same cool-off window, and locks the address out. Both
lockouts hold for the cool-off from the last failure *before* the lockout: attempts made while locked out
are refused without being recorded (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off), so nobody can
keep a user or an address locked out for ever by trying on.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def address_failures(request: HttpRequest) -> int:
    """Failed sign-ins from the request's address, any user name, within the cool-off window."""
    address = getattr(request, "axes_ip_address", None)
    if not address:
        return 0
    recent = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_locked_out(request: HttpRequest) -> bool:
    limit = settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS
    return limit > 0 and address_failures(request) >= limit


class SignInLockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, with the per-address limit beside its per (user name, address) one."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or address_locked_out(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # As axes does for its own limit: the failure that reaches the limit is answered with the lockout.
        if request is not None and not request.axes_locked_out and address_locked_out(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials
