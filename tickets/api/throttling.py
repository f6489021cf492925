"""Request rates: per token (or signed-in user), per anonymous address, and token guesses per address.

Addresses come from helpdesk.clients.client_ip, as for the sign-in lockouts: one notion of "the client"
behind the proxies (TRUSTED_PROXY_COUNT) for every per-address limit.
"""

from rest_framework import throttling

from helpdesk.clients import client_ip
from tickets.models.integrations import ApiToken


class ClientAddressMixin:
    """Identify an anonymous client by helpdesk.clients.client_ip rather than DRF's own reading."""

    def get_ident(self, request) -> str:
        return client_ip(request) or ""


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    pass


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Each token has its own budget; a session user one budget for all their browser tabs."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        ident = (
            f"token-{request.auth.pk}" if isinstance(request.auth, ApiToken) else f"user-{request.user.pk}"
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


class TokenGuessThrottle(ClientAddressMixin, throttling.SimpleRateThrottle):
    """Wrong or revoked tokens, counted per client address (TokenAuthentication asks after each one).

    A bad token fails authentication, which DRF checks before any throttle, so without this an address
    could try keys without limit. It shares the "auth" budget (and its cache key) with the token
    endpoint's password sign-ins: guesses of either kind, from one address, count together.
    """

    scope = "auth"

    def get_cache_key(self, request, view):
        # request.user is not known yet (this runs inside authentication): the address only.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


__all__ = ["AnonRateThrottle", "ScopedRateThrottle", "TokenGuessThrottle", "TokenRateThrottle"]
