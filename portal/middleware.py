"""Portal-wide request handling: the customer's time zone, and a content security policy."""

from __future__ import annotations

from django.utils import timezone

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_PORTAL_PREFIXES = ("/portal/", "/support/")
#: Pages under the same policy: the portal, the public pages and the agent console.
_POLICED_PREFIXES = (*_PORTAL_PREFIXES, "/admin/")


class ContentSecurityPolicyMiddleware:
    """The portal, the public pages and the agent console load scripts and styles from our own origin
    only (no inline code): stored markup that escaped escaping still could not run.

    Customers also see times in their organization's time zone: it is activated for their requests.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        portal = request.path.startswith(_PORTAL_PREFIXES)
        if portal:
            membership = (
                getattr(getattr(request, "user", None), "membership", None)
                if _authenticated(request)
                else None
            )
            if membership is not None:
                timezone.activate(membership.organization.zoneinfo)
        try:
            response = self.get_response(request)
        finally:
            if portal:
                timezone.deactivate()
        if request.path.startswith(_POLICED_PREFIXES):
            response.setdefault("Content-Security-Policy", CSP)
        return response


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
