"""`Authorization: Token <key>` against hashed ApiToken rows."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tickets.api.throttling import TokenGuessThrottle
from tickets.models.integrations import ApiToken, hash_token

#: last_used_at is written at most this often per token, not on every request.
_TOUCH_SECONDS = 60


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        token = (
            ApiToken.objects.select_related("user", "user__membership", "organization")
            .filter(key_hash=hash_token(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            guesses = TokenGuessThrottle()
            if not guesses.allow_request(request, None):
                raise exceptions.Throttled(guesses.wait())
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.has_expired(now):
            raise exceptions.AuthenticationFailed(
                f"This token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC (tokens last "
                f"{settings.API_TOKEN_TTL_DAYS} days): ask POST /api/v1/auth/token/ for a new one."
            )
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > _TOUCH_SECONDS:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "tickets.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, the key from POST /api/v1/auth/token/.",
        }


def token_organization_id(request) -> int | None:
    """The organization a token is limited to, if any."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return token.organization_id if token is not None else None
