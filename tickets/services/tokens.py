"""API tokens' lifecycle: revoking one, or every token of a user whose credentials changed."""

from __future__ import annotations

from django.utils import timezone

from tickets.models.integrations import ApiToken


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke `token` (a no-op if it already is): it answers 401 from now on."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=token.revoked_at)
    return token


def api_tokens_revoke_for_user(*, user) -> int:
    """Revoke every live token of `user`; how many there were."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
