"""Request rates: per token (or signed-in user) and per anonymous address."""

from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, SimpleRateThrottle

from tickets.models.integrations import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """Each token has its own budget; a session user one budget for all their browser tabs."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        ident = (
            f"token-{request.auth.pk}" if isinstance(request.auth, ApiToken) else f"user-{request.user.pk}"
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


__all__ = ["AnonRateThrottle", "ScopedRateThrottle", "TokenRateThrottle"]
