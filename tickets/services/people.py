"""Provisioning customers: a user account with a membership of one organization."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from tickets.models import Membership, Organization

User = get_user_model()


def customer_create(
    *,
    username: str,
    organization: Organization,
    role: str = Membership.Role.REQUESTER,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
):
    """A customer user; without a password they sign in after a password reset."""
    with transaction.atomic():
        user = User(username=username, email=email, first_name=first_name, last_name=last_name)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        Membership.objects.create(user=user, organization=organization, role=role)
    return user


def customer_update(
    *,
    user,
    organization: Organization | None = None,
    role: str | None = None,
    password: str | None = None,
    **fields,
):
    with transaction.atomic():
        for name, value in fields.items():
            setattr(user, name, value)
        if password:
            user.set_password(password)
        user.save()
        if organization is not None or role is not None:
            membership, _ = Membership.objects.get_or_create(
                user=user, defaults={"organization": organization, "role": role or Membership.Role.REQUESTER}
            )
            if organization is not None:
                membership.organization = organization
            if role is not None:
                membership.role = role
            membership.save()
    return user
