"""The password reset, which is also how a customer created without a password (by email intake or the
API) chooses their first one: an invitation.

Asking for a link answers the same, at the same speed, whatever the address: the request only counts it
against two limits and enqueues one task; looking the address up, making the link and sending the mail
happen in the Celery worker (`portal.tasks.send_password_reset`). Without that, a known address answered
~460 ms (the SMTP exchange) and an unknown one ~80 ms, which told anyone which addresses have accounts.

It is no outbox row: writing one would be a query in the request, and the mail's address may belong to
nobody. A link asked for while the broker is down is logged as not enqueued and never sent; the person
asking sees no mail and asks again.

The limits, per client address (helpdesk.clients.client_ip) and per email address, stop one from
flooding a mailbox or the mail server; a request over either is answered exactly like one under them.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponseRedirect

from helpdesk.clients import client_ip
from helpdesk.outbox import enqueue_or_log
from helpdesk.rate_limits import rate_allows

EMAIL_TEMPLATE = "portal/email/password_reset.txt"
SUBJECT_TEMPLATE = "portal/email/password_reset_subject.txt"


class PasswordResetRequestForm(PasswordResetForm):
    """Django's form, reaching active users whether or not they have a usable password yet."""

    def get_users(self, email: str):
        # Django skips users with an unusable password (meant for accounts that sign in elsewhere); here
        # that is a customer made by email intake or the API who has not chosen a password yet.
        email_field = get_user_model().get_email_field_name()
        users = get_user_model()._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        )
        return (user for user in users if _folded(email) == _folded(getattr(user, email_field)))


def _folded(text: str) -> str:
    # As Django's own form compares: the database's case-insensitive match may be looser than Unicode's.
    return unicodedata.normalize("NFKC", text).casefold()


def password_reset_allowed(request, email: str) -> bool:
    """Count this request against both limits (both, always: the work does not depend on the result)."""
    per_address = rate_allows(
        scope="password-reset-address",
        ident=client_ip(request) or "",
        rate=settings.PASSWORD_RESET_RATE_PER_ADDRESS,
    )
    per_email = rate_allows(
        scope="password-reset-email", ident=email.strip().lower(), rate=settings.PASSWORD_RESET_RATE_PER_EMAIL
    )
    return per_address and per_email


class PasswordResetRequestView(PasswordResetView):
    """The portal's "forgot your password" page: always the same answer, the mail sent by the worker."""

    form_class = PasswordResetRequestForm
    template_name = "portal/password_reset.html"
    email_template_name = EMAIL_TEMPLATE
    subject_template_name = SUBJECT_TEMPLATE

    def form_valid(self, form):
        # Imported here: the task module imports this one (for the form).
        from portal.tasks import send_password_reset

        email = form.cleaned_data["email"]
        if password_reset_allowed(self.request, email):
            enqueue_or_log(send_password_reset, email, self.request.get_host(), self.request.is_secure())
        return HttpResponseRedirect(self.get_success_url())
