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

from django.conf import settings
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponseRedirect

from helpdesk.clients import client_ip
from helpdesk.outbox import enqueue_or_log
from helpdesk.rate_limits import rate_allows
from portal.forms import EMAIL_TEMPLATE, SUBJECT_TEMPLATE, PasswordResetRequestForm
from portal.tasks import send_password_reset


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
        email = form.cleaned_data["email"]
        if password_reset_allowed(self.request, email):
            enqueue_or_log(send_password_reset, email, self.request.get_host(), self.request.is_secure())
        return HttpResponseRedirect(self.get_success_url())
