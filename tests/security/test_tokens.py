"""API tokens' lifecycle: a password change or a deactivation revokes every token of the user, whatever
the path (the portal's reset, the console, the API, `set_password()` and `save()`); tokens may expire
(API_TOKEN_TTL_DAYS), answering 401 saying so; a user lists and revokes their own tokens at
/api/v1/auth/tokens/, never seeing a key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, CustomerFactory
from tickets.models.integrations import ApiToken

NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


def issue(user, **options) -> str:
    return ApiToken.objects.issue(user=user, name=options.pop("name", "integration"), **options)[1]


def api(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = api(key).get("/api/v1/tickets/").status_code
    assert status in (200, 401), status
    return status == 200


# --- revoked when the credentials change ------------------------------------------------------------------


def test_set_password_and_save_revokes_the_users_tokens_only(requester, organization):
    key, colleague_key = issue(requester), issue(CustomerFactory(membership__organization=organization))
    assert works(key)
    requester.set_password(NEW_PASSWORD)
    requester.save()
    assert not works(key)
    assert works(colleague_key)
    assert ApiToken.objects.get(user=requester).revoked_at is not None


def test_a_password_reset_through_the_portal_revokes_tokens(client, requester):
    key = issue(requester)
    uid = urlsafe_base64_encode(force_bytes(requester.pk))
    url = reverse("portal:password_reset_confirm", args=[uid, default_token_generator.make_token(requester)])
    form = client.get(url, follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:password_reset_complete")
    assert not works(key)


def test_a_password_change_in_the_console_revokes_tokens(client, superuser_factory, requester):
    key = issue(requester)
    client.force_login(superuser_factory())
    url = reverse("admin:auth_user_password_change", args=[requester.pk])
    response = client.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302, response.content[:2000]
    assert not works(key)


def test_a_password_set_through_the_users_api_revokes_tokens(superuser_factory, requester):
    key = issue(requester)
    staff = api(issue(superuser_factory()))
    response = staff.patch(f"/api/v1/users/{requester.pk}/", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert not works(key)


def test_deactivation_revokes_tokens_for_good(requester):
    key = issue(requester)
    requester.is_active = False
    requester.save()
    requester.is_active = True
    requester.save()
    assert not works(key)  # reactivating the user does not bring the old keys back


def test_signing_in_or_a_rehash_of_the_same_password_keeps_tokens(client, settings, requester):
    key = issue(requester)
    assert (
        client.post(
            reverse("portal:login"), {"username": requester.username, "password": PASSWORD}
        ).status_code
        == 302
    )
    # Newer hasher settings: the next sign-in rewrites the stored hash of the unchanged password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = type(requester).objects.get(pk=requester.pk).password
    assert (
        api().post("/api/v1/auth/token/", {"username": requester.username, "password": PASSWORD}).status_code
        == 200
    )
    assert type(requester).objects.get(pk=requester.pk).password != before
    assert works(key)
    # A full save of an instance loaded before that rewrite (the same password) is no change either.
    requester.first_name = "Renamed"
    requester.save()
    assert works(key)


def test_disabling_password_sign_in_revokes_tokens(requester):
    key = issue(requester)
    requester.set_unusable_password()
    requester.save()
    assert not works(key)


# --- expiry -----------------------------------------------------------------------------------------------


def test_tokens_expire_after_the_configured_days(settings, requester):
    old, fresh = issue(requester, name="old"), issue(requester, name="fresh")
    ApiToken.objects.filter(name="old").update(created_at=timezone.now() - timedelta(days=31))
    assert works(old)  # API_TOKEN_TTL_DAYS=0, the default: no expiry
    settings.API_TOKEN_TTL_DAYS = 30
    response = api(old).get("/api/v1/tickets/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"] and "/api/v1/auth/token/" in response.json()["detail"]
    assert works(fresh)


# --- listing and revoking one's own ----------------------------------------------------------------------


def test_a_user_lists_their_own_tokens_without_keys(settings, requester, organization, org_admin):
    settings.API_TOKEN_TTL_DAYS = 90
    key = issue(requester, name="CI")
    issue(requester, name="laptop")
    revoked, _ = ApiToken.objects.issue(user=requester, name="old")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    issue(org_admin, name="someone else's")
    response = api(key).get("/api/v1/auth/tokens/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted(row["name"] for row in rows) == ["CI", "laptop"]
    assert set(rows[0]) == {"id", "name", "organization", "created_at", "last_used_at", "expires_at"}
    assert rows[0]["expires_at"] is not None
    assert key not in response.content.decode() and key[:8] not in response.content.decode()


def test_a_user_revokes_one_of_their_tokens(requester, org_admin):
    key, other_key = issue(requester, name="CI"), issue(requester, name="laptop")
    foreign, _ = ApiToken.objects.issue(user=org_admin, name="admin's")
    laptop = ApiToken.objects.get(name="laptop")
    assert api(key).delete(f"/api/v1/auth/tokens/{laptop.pk}/").status_code == 204
    assert not works(other_key) and works(key)
    assert api(key).delete(f"/api/v1/auth/tokens/{foreign.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=foreign.pk).revoked_at is None
    own = ApiToken.objects.get(name="CI")
    assert api(key).delete(f"/api/v1/auth/tokens/{own.pk}/").status_code == 204  # may revoke itself
    assert not works(key)


def test_an_organization_limited_token_sees_only_its_organizations_tokens(superuser_factory, organization):
    root = superuser_factory()
    issue(root, name="everything")
    limited = issue(root, name="acme integration", organization=organization)
    names = [row["name"] for row in api(limited).get("/api/v1/auth/tokens/").json()["results"]]
    assert names == ["acme integration"]
    everything = ApiToken.objects.get(name="everything")
    assert api(limited).delete(f"/api/v1/auth/tokens/{everything.pk}/").status_code == 404


def test_the_token_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/auth/tokens/:" in schema and "/api/v1/auth/tokens/{id}/:" in schema
    assert "auth_tokens_destroy" in schema


@pytest.fixture
def superuser_factory(db):
    from django.contrib.auth import get_user_model

    made = iter(range(100))

    def make():
        return get_user_model().objects.create_superuser(f"root{next(made)}", "", PASSWORD)

    return make
