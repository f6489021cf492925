"""A user's API tokens die with the credentials they were issued on.

A token is a password's stand-in: whoever changes a user's password (a reset, the portal, the console,
the API, `set_password()` and `save()` in a shell) or deactivates the user means every key handed out
before to stop working. The rule lives on the user model's save signals rather than in each service
because every one of those paths saves the user and not all of them go through a service.

A password change is `set_password()` followed by a save (every form, service and shell path does
that), or the password made unusable (the console's "password-based authentication: disabled"). Not a
change: the hash Django rewrites, the password unchanged, when a sign-in finds it made with older hasher
settings (`check_password()` clears the new password before saving), a full save of an instance loaded
before such a rewrite, and saves that touch neither the password nor `is_active` (`last_login` at each
sign-in). A hash assigned directly (`user.password = make_password(...)`) and bulk `QuerySet.update()`
are not seen; nothing in the helpdesk changes credentials that way but the demo seed's `--reset`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save

from tickets.services.tokens import api_tokens_revoke_for_user

_WATCHED = {"password", "is_active"}


def _note_credential_change(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    instance._revoke_api_tokens = False
    if raw or instance.pk is None or (update_fields is not None and not _WATCHED & set(update_fields)):
        return
    # set_password() keeps the new raw password in _password until the save after it.
    if getattr(instance, "_password", None) is not None:
        instance._revoke_api_tokens = True
        return
    before = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    deactivated = before["is_active"] and not instance.is_active
    made_unusable = instance.password != before["password"] and not instance.has_usable_password()
    instance._revoke_api_tokens = deactivated or made_unusable


def _revoke_after_credential_change(sender, instance, created=False, raw=False, **kwargs) -> None:
    if getattr(instance, "_revoke_api_tokens", False):
        instance._revoke_api_tokens = False
        api_tokens_revoke_for_user(user=instance)


def connect() -> None:
    """Called from TicketsConfig.ready()."""
    user_model = get_user_model()
    pre_save.connect(_note_credential_change, sender=user_model, dispatch_uid="token-lifecycle-pre")
    post_save.connect(_revoke_after_credential_change, sender=user_model, dispatch_uid="token-lifecycle-post")
