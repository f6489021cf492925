"""The password reset: no oracle, no mailbox flood, and the way in for customers made without a password.

- Asking for a link does the same work in the request whatever the address (no user lookup, no mail: one
  task enqueued on commit), so the answer's shape and time say nothing about which addresses have
  accounts; the worker sends the mail.
- Requests are limited per client address and per email address (PASSWORD_RESET_RATE_PER_ADDRESS,
  PASSWORD_RESET_RATE_PER_EMAIL); one over a limit is answered exactly as one under it, and sends nothing.
- A customer created without a password (email intake, the API) gets a link to choose one (an
  invitation); inactive users get nothing.
"""

from __future__ import annotations

import re
import secrets

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory
from tickets.services.people import customer_create

RESET = reverse("portal:password_reset")


@pytest.fixture
def eager_celery():
    from helpdesk.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def address() -> str:
    """A client address of this test's own: the counters live in the shared cache."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def unique_email() -> str:
    return f"reset-{secrets.token_hex(6)}@acme.example"


def ask(client, email: str, address: str):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def test_known_and_unknown_addresses_get_the_same_answer_and_the_same_work(
    client, organization, address, mailoutbox, django_capture_on_commit_callbacks
):
    known = CustomerFactory(email=unique_email(), membership__organization=organization)
    answers, work = [], []
    for email in (known.email, unique_email()):
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
            answers.append(ask(client, email, address))
        work.append((len(queries), len(callbacks)))
    assert [(a.status_code, a["Location"]) for a in answers] == [
        (302, reverse("portal:password_reset_done"))
    ] * 2
    assert work[0] == work[1] == (0, 1)  # no lookup in the request; one task enqueued after commit
    assert mailoutbox == []  # nothing sent inside the request


def test_the_worker_sends_the_link_to_known_addresses_only(
    client, organization, address, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    known = CustomerFactory(email=unique_email(), membership__organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, known.email.upper(), address)
        ask(client, unique_email(), address)
    (mail,) = mailoutbox
    assert mail.to == [known.email]
    assert "/portal/password-reset/" in mail.body and "reset the password" in mail.body


def test_requests_per_email_address_are_limited_silently(
    client, settings, organization, address, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_RATE_PER_EMAIL = "2/hour"
    known = CustomerFactory(email=unique_email(), membership__organization=organization)
    with django_capture_on_commit_callbacks(execute=True):
        answers = [ask(client, known.email, f"2001:db8::{n}:{secrets.token_hex(2)}") for n in range(4)]
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, reverse("portal:password_reset_done"))}
    assert len(mailoutbox) == 2  # from four different addresses: the mailbox is not flooded


def test_requests_per_client_address_are_limited_silently(
    client, settings, organization, address, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_RATE_PER_ADDRESS = "3/hour"
    people = [CustomerFactory(email=unique_email(), membership__organization=organization) for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        answers = [ask(client, person.email, address) for person in people]
    assert {a.status_code for a in answers} == {302}
    assert len(mailoutbox) == 3
    # Behind the proxy each client has its own budget.
    settings.TRUSTED_PROXY_COUNT = 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            RESET, {"email": people[4].email}, REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR="198.51.100.4"
        )
    assert len(mailoutbox) == 4


def test_a_customer_made_without_a_password_is_invited_to_choose_one(
    client, organization, address, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    email = unique_email()
    invited = customer_create(
        username=f"invited-{secrets.token_hex(3)}", organization=organization, email=email
    )
    assert not invited.has_usable_password()
    with django_capture_on_commit_callbacks(execute=True):
        ask(client, email, address)
    (mail,) = mailoutbox
    assert "no password yet" in mail.body
    link = re.search(r"https?://[^/\s]+(/portal/password-reset/\S+/)", mail.body).group(1)
    form = client.get(link, follow=True)
    chosen = "my-first-passphrase-77"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": chosen, "new_password2": chosen})
    assert done.status_code == 302 and done["Location"] == reverse("portal:password_reset_complete")
    invited.refresh_from_db()
    assert invited.check_password(chosen)


def test_inactive_users_get_no_link(
    client, organization, address, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    gone = CustomerFactory(email=unique_email(), membership__organization=organization, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert ask(client, gone.email, address).status_code == 302
    assert mailoutbox == []
