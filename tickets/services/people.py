"""Provisioning customers: a user account with a membership of one organization.

Two rules hold for every account these functions write:
- a customer is never staff: an agent (or superuser) cannot hold a membership, so nothing that manages
  an organization's people (an organization-limited token above all) can reach an agent's account;
- an email address belongs to one account, compared without case: mail from it is filed as that
  account's (two accounts sharing it would quarantine the genuine sender's mail as ambiguous). The
  database enforces it too (a unique index on the lowered address, migration 0009).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tickets.models import Membership, Organization

User = get_user_model()

EMAIL_TAKEN = "Another account already uses this email address."
STAFF_NOT_CUSTOMER = "Agents (staff) are managed in the console; they cannot be customers of an organization."


def user_email_check(*, email: str, user=None) -> None:
    """Refuse `email` if another account has it, in any case; blank is always allowed."""
    if not email:
        return
    others = User._default_manager.filter(email__iexact=email)
    if user is not None and user.pk is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise ValidationError({"email": [EMAIL_TAKEN]})


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
    """A customer user; without a password they choose one through the password reset (an invitation)."""
    user_email_check(email=email)
    try:
        with transaction.atomic():
            user = User(username=username, email=email, first_name=first_name, last_name=last_name)
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
            Membership.objects.create(user=user, organization=organization, role=role)
    except IntegrityError as error:  # a concurrent create took the address between the check and here
        user_email_check(email=email)
        raise error
    return user


def customer_update(
    *,
    user,
    organization: Organization | None = None,
    role: str | None = None,
    password: str | None = None,
    **fields,
):
    """Change a customer's account and membership; agents' accounts are refused."""
    if user.is_staff or user.is_superuser:
        raise ValidationError({"non_field_errors": [STAFF_NOT_CUSTOMER]})
    if "email" in fields:
        user_email_check(email=fields["email"], user=user)
    try:
        with transaction.atomic():
            for name, value in fields.items():
                setattr(user, name, value)
            if password:
                user.set_password(password)
            user.save()
            if organization is not None or role is not None:
                membership, _ = Membership.objects.get_or_create(
                    user=user,
                    defaults={"organization": organization, "role": role or Membership.Role.REQUESTER},
                )
                if organization is not None:
                    membership.organization = organization
                if role is not None:
                    membership.role = role
                membership.save()
    except IntegrityError as error:
        user_email_check(email=fields.get("email", ""), user=user)
        raise error
    return user
