"""Brute force on every way in: the portal's and the console's sign-in forms (django-axes), the API's token
endpoint (axes and the "auth" throttle) and guessed API tokens (the same throttle, per address).

Behind a proxy every limit keys on the client's address (helpdesk/clients.py, TRUSTED_PROXY_COUNT), not
the proxy's; a try during a lockout does not extend it; one address failing across many user names
(password spraying) is locked out as a whole (SIGNIN_FAILURE_LIMIT_PER_ADDRESS).

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
    # That try, during the lockout, is refused without being counted: the cool-off still runs from the
    # last failure before the lockout (see test_tries_during_a_lockout_do_not_extend_it).
    (attempt,) = AccessAttempt.objects.filter(username=requester.username)
    assert attempt.failures_since_start == LIMIT
    assert timezone.now() - attempt.attempt_time >= timedelta(minutes=14)
    age_attempts(timedelta(minutes=1, seconds=1))
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


# --- The client's address behind a proxy -------------------------------------------------------------

PROXY = "10.0.0.2"


def via_proxy(client, url: str, username: str, password: str, forwarded: str):
    """A sign-in as the TLS proxy passes it on: from the proxy's address, the client's in the header."""
    return client.post(
        url,
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


@pytest.mark.parametrize("url", [PORTAL_LOGIN, CONSOLE_LOGIN], ids=["portal", "console"])
def test_behind_a_proxy_a_lockout_holds_the_attackers_address_only(client, agent, one_proxy, url):
    for _ in range(LIMIT):
        via_proxy(client, url, agent.username, "wrong-password", "203.0.113.66")
    assert_lockout_page(via_proxy(client, url, agent.username, PASSWORD, "203.0.113.66"))
    # The agent, behind the same proxy from their own address, still signs in.
    assert via_proxy(client, url, agent.username, PASSWORD, "198.51.100.20").status_code == 302
    (attempt,) = AccessAttempt.objects.filter(username=agent.username)
    assert attempt.ip_address == "203.0.113.66"


def test_behind_a_proxy_a_forged_forwarded_entry_does_not_escape_the_lockout(client, requester, one_proxy):
    # The client sends its own X-Forwarded-For; the proxy appends the address it saw. Only that one counts.
    for n in range(LIMIT):
        via_proxy(client, PORTAL_LOGIN, requester.username, "wrong", f"192.0.2.{n + 1}, 203.0.113.66")
    locked = via_proxy(client, PORTAL_LOGIN, requester.username, PASSWORD, "192.0.2.99, 203.0.113.66")
    assert_lockout_page(locked)


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, requester):
    for n in range(LIMIT):
        sign_in_forwarded = client.post(
            PORTAL_LOGIN,
            {"username": requester.username, "password": "wrong"},
            REMOTE_ADDR="192.0.2.10",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}",
        )
    assert_lockout_page(sign_in_forwarded)
    assert AccessAttempt.objects.get(username=requester.username).ip_address == "192.0.2.10"


def test_the_token_endpoint_keys_on_the_client_behind_a_proxy(requester, rates, one_proxy):
    api = APIClient()
    url = "/api/v1/auth/token/"
    attacker, customer = random_address(), random_address()
    for _ in range(LIMIT):
        api.post(
            url,
            {"username": requester.username, "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=attacker,
        )
    refused = api.post(
        url,
        {"username": requester.username, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=attacker,
    )
    assert refused.status_code == 429
    allowed = api.post(
        url,
        {"username": requester.username, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=customer,
    )
    assert allowed.status_code == 200 and "token" in allowed.json()


def test_the_api_throttles_key_on_the_client_behind_a_proxy(requester, rates, one_proxy):
    rates(auth="3/min")
    api = APIClient()
    guesser, other = random_address(), random_address()
    guesses = [
        api.get(
            "/api/v1/tickets/",
            HTTP_AUTHORIZATION="Token wrong",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=guesser,
        ).status_code
        for _ in range(4)
    ]
    assert guesses == [401, 401, 401, 429]
    elsewhere = api.get(
        "/api/v1/tickets/", HTTP_AUTHORIZATION="Token wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=other
    )
    assert elsewhere.status_code == 401


def test_tries_during_a_lockout_do_not_extend_it(client, requester):
    lock_out(client, PORTAL_LOGIN, requester.username)
    # The attacker keeps trying all through the cool-off ...
    for _ in range(3):
        age_attempts(timedelta(minutes=4))
        assert_lockout_page(sign_in(client, PORTAL_LOGIN, requester.username, "still-wrong"))
    # ... and the lockout still ends 15 minutes after the failure that caused it.
    age_attempts(timedelta(minutes=3, seconds=1))
    assert sign_in(client, PORTAL_LOGIN, requester.username, PASSWORD).status_code == 302


def test_password_spraying_from_one_address_locks_that_address_out(client, settings, organization):
    settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS = 5
    victims = [CustomerFactory(membership__organization=organization) for _ in range(6)]
    # One wrong password for each of five user names: no name reaches AXES_FAILURE_LIMIT (3) ...
    answers = [
        sign_in(client, PORTAL_LOGIN, victim.username, "Summer2025!", "203.0.113.9") for victim in victims[:5]
    ]
    assert [answer.status_code for answer in answers[:4]] == [200] * 4
    assert_lockout_page(answers[4])  # ... but the address reached its limit: locked out at once
    # The sixth name, right password included, is refused from that address; elsewhere it signs in.
    assert_lockout_page(sign_in(client, PORTAL_LOGIN, victims[5].username, PASSWORD, "203.0.113.9"))
    assert sign_in(client, PORTAL_LOGIN, victims[5].username, PASSWORD, "198.51.100.7").status_code == 302
    client.logout()
    # Spraying on through the lockout does not extend it either.
    age_attempts(timedelta(minutes=10))
    assert_lockout_page(sign_in(client, PORTAL_LOGIN, "someone-else", "x", "203.0.113.9"))
    age_attempts(timedelta(minutes=5, seconds=1))
    assert sign_in(client, PORTAL_LOGIN, victims[5].username, PASSWORD, "203.0.113.9").status_code == 302


def test_password_spraying_is_locked_out_on_the_token_endpoint_too(settings, organization, rates, address):
    settings.SIGNIN_FAILURE_LIMIT_PER_ADDRESS = 4
    api = APIClient()
    names = [CustomerFactory(membership__organization=organization).username for _ in range(5)]
    answers = [
        api.post("/api/v1/auth/token/", {"username": name, "password": "Winter2025!"}, REMOTE_ADDR=address)
        for name in names[:4]
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    right = api.post("/api/v1/auth/token/", {"username": names[4], "password": PASSWORD}, REMOTE_ADDR=address)
    assert right.status_code == 429 and "token" not in right.json()


# --- client_ip ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "192.0.2.10"),  # no trusted proxy: the header is never read
        (1, "", "192.0.2.10"),  # a proxy that sent no header: the socket's address
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own entry is ignored
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.3", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),  # fewer entries than proxies: the outermost one
        (1, "[2001:db8::5]:4430", "2001:db8::5"),
        (1, "198.51.100.1:8080", "198.51.100.1"),
        (1, "2001:DB8:0::5", "2001:db8::5"),
        (1, "unknown", "192.0.2.10"),  # not an address: never stored as one
    ],
)
def test_client_ip(rf, settings, proxies, forwarded, expected):
    from helpdesk.clients import client_ip

    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_api_num_proxies_is_still_read_as_the_trusted_proxy_count():
    import subprocess
    import sys
    from pathlib import Path

    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.TRUSTED_PROXY_COUNT, s.REST_FRAMEWORK['NUM_PROXIES'])"
    env = {"DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DEBUG": "true", "PATH": "/usr/bin:/bin"}

    def counts(**variables: str) -> list[str]:
        root = Path(__file__).resolve().parents[2]
        run = [sys.executable, "-c", code]
        return subprocess.run(
            run, cwd=root, env=env | variables, capture_output=True, text=True, check=True
        ).stdout.split()

    assert counts(API_NUM_PROXIES="2") == ["2", "2"]
    assert counts(API_NUM_PROXIES="2", TRUSTED_PROXY_COUNT="1") == ["1", "1"]
