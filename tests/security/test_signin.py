"""Brute force on every way in: the portal's and the console's sign-in forms (django-axes), the API's token
endpoint (axes and the "auth" throttle) and guessed API tokens (the same throttle, per address).

tests/portal/test_portal.py::test_brute_force_is_locked_out shows the portal answering 429 to the right
password after too many wrong ones; here: what the lockout page says, that the console is locked the same
way and no session is opened, that a lockout holds one user name from one address only, and that it
lifts after the cool-off (the recorded attempts are moved into the past; nothing sleeps) or when an
operator resets it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, CustomerFactory
from tickets.models.integrations import ApiToken

LIMIT = 3
PORTAL_LOGIN = reverse("portal:login")
CONSOLE_LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def _lockout_after_three(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = 0.25  # hours, the shipped default


@pytest.fixture
def address() -> str:
    """A client address of this test's own: throttle counters live in the shared cache, keyed by it."""
    return random_address()


def random_address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def sign_in(client, url: str, username: str, password: str, address: str = "192.0.2.10"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def lock_out(client, url: str, username: str, address: str = "192.0.2.10") -> list:
    return [sign_in(client, url, username, "wrong-password", address) for _ in range(LIMIT)]


def assert_lockout_page(response) -> None:
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "try again in\n15 minutes." in page
    assert "even the right password is refused" in page
    assert reverse("portal:password_reset") in page


def age_attempts(by: timedelta) -> None:
    """Move the recorded failures `by` into the past: the clock moving on, as axes sees it."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - by)


# --- The portal and the console ----------------------------------------------------------------------


def test_portal_lockout_page_says_how_long_and_the_right_password_is_refused(client, requester):
    *first, last = lock_out(client, PORTAL_LOGIN, requester.username)
    assert [response.status_code for response in first] == [200] * (LIMIT - 1)
    assert "Please enter a correct username and password" in first[0].content.decode()
    assert_lockout_page(last)
    assert_lockout_page(sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD))
    assert client.get(reverse("portal:tickets")).status_code == 302  # no session was opened


@pytest.mark.parametrize("url", [CONSOLE_LOGIN, PORTAL_LOGIN], ids=["console", "portal"])
def test_an_agent_is_locked_out_of_both_sign_ins(client, agent, url):
    *_, last = lock_out(client, url, agent.username)
    assert_lockout_page(last)
    other = PORTAL_LOGIN if url == CONSOLE_LOGIN else CONSOLE_LOGIN
    assert_lockout_page(sign_in(client, other, agent.username, PASSWORD))
    assert_lockout_page(sign_in(client, url, agent.username, PASSWORD))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(CONSOLE_LOGIN)


def test_a_lockout_holds_one_user_name_from_one_address(client, requester, organization):
    lock_out(client, PORTAL_LOGIN, requester.username, address="192.0.2.10")
    # Someone else at that address, and the customer elsewhere, still sign in: an attacker cannot lock a
    # customer out from everywhere by failing on purpose.
    colleague = CustomerFactory(membership__organization=organization)
    assert sign_in(client, PORTAL_LOGIN, colleague.username, PASSWORD, "192.0.2.10").status_code == 302
    client.logout()
    assert sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD, "198.51.100.7").status_code == 302
    client.logout()
    assert sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD, "192.0.2.10").status_code == 429


def test_the_lockout_lifts_after_the_cool_off(client, requester):
    lock_out(client, PORTAL_LOGIN, requester.username)
    age_attempts(timedelta(minutes=14))
    assert_lockout_page(sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD))
    # That try, during the lockout, counted as one more failure: the cool-off starts again from it.
    (attempt,) = AccessAttempt.objects.filter(username=requester.username)
    assert attempt.failures_since_start == LIMIT + 1
    assert timezone.now() - attempt.attempt_time < timedelta(minutes=1)
    age_attempts(timedelta(minutes=15, seconds=1))
    response = sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("portal:tickets")
    assert not AccessAttempt.objects.filter(username=requester.username).exists()  # reset on success


def test_an_operator_can_lift_a_lockout_at_once(client, agent):
    lock_out(client, CONSOLE_LOGIN, agent.username)
    assert sign_in(client, CONSOLE_LOGIN, agent.username, PASSWORD).status_code == 429
    call_command("axes_reset_username", agent.username, verbosity=0)
    assert sign_in(client, CONSOLE_LOGIN, agent.username, PASSWORD).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


# --- The API ------------------------------------------------------------------------------------------


@pytest.fixture
def rates(monkeypatch):
    """rates(auth="3/min"): the API's throttle rates for this test."""

    def set_rates(**scopes):
        for scope, rate in scopes.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    set_rates(token="100000/min", anon="100000/min", auth="100000/min")
    return set_rates


def test_password_guessing_on_the_token_endpoint_is_locked_out(requester, rates, address):
    api = APIClient()
    url = "/api/v1/auth/token/"
    answers = [
        api.post(url, {"username": requester.username, "password": "wrong"}, REMOTE_ADDR=address).status_code
        for _ in range(LIMIT)
    ]
    assert answers == [400] * (LIMIT - 1) + [429]  # the failure that reaches the limit locks at once
    right = api.post(url, {"username": requester.username, "password": PASSWORD}, REMOTE_ADDR=address)
    assert right.status_code == 429 and "token" not in right.json()
    assert "Too many failed sign-ins" in right.json()["detail"] and "15 minutes" in right.json()["detail"]
    assert right["Retry-After"] == "900"
    assert not ApiToken.objects.filter(user=requester).exists()


def test_the_token_endpoint_is_throttled_per_address(requester, rates, address):
    rates(auth="3/min")
    api = APIClient()
    for _ in range(3):
        api.post("/api/v1/auth/token/", {"username": "nobody", "password": "x"}, REMOTE_ADDR=address)
    response = api.post(
        "/api/v1/auth/token/", {"username": requester.username, "password": PASSWORD}, REMOTE_ADDR=address
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"]


def test_guessing_tokens_is_throttled_per_address_and_real_tokens_still_work(requester, rates, address):
    rates(auth="3/min")
    _, key = ApiToken.objects.issue(user=requester, name="integration")
    api = APIClient()
    answers = [
        api.get(
            "/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {secrets.token_urlsafe(32)}", REMOTE_ADDR=address
        )
        for _ in range(4)
    ]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    # A wrong token from elsewhere is still only a 401; a valid one from the guessing address still works.
    elsewhere = api.get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token wrong", REMOTE_ADDR=random_address())
    assert elsewhere.status_code == 401
    valid = api.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)
    assert valid.status_code == 200
    # Password sign-ins from the guessing address share its budget.
    response = api.post(
        "/api/v1/auth/token/", {"username": requester.username, "password": PASSWORD}, REMOTE_ADDR=address
    )
    assert response.status_code == 429
