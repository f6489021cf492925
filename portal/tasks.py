"""Celery tasks of the portal: the password-reset (and invitation) mail, sent outside the request."""

from __future__ import annotations

from celery import shared_task

from portal.forms import EMAIL_TEMPLATE, SUBJECT_TEMPLATE, PasswordResetRequestForm

_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "retry_backoff_max": 600, "max_retries": 5}


@shared_task(**_RETRY)
def send_password_reset(email: str, domain: str, use_https: bool) -> None:
    """Mail a reset link to each active account with `email` (none: nothing is sent, nothing is said).

    `domain` is the host the request came to (checked against ALLOWED_HOSTS), for the link.
    """
    form = PasswordResetRequestForm(data={"email": email})
    if form.is_valid():
        form.save(
            domain_override=domain,
            use_https=use_https,
            email_template_name=EMAIL_TEMPLATE,
            subject_template_name=SUBJECT_TEMPLATE,
        )
