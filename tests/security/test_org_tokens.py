"""What an organization-limited token (and customer provisioning generally) can no longer reach.

- An agent who had been given a customer membership was listed among that organization's people, so the
  organization's token could set the agent's password: agents now hold no membership (model validation,
  the console's forms, the services, migration 0009 for existing rows) and /api/v1/users/ never shows
  an agent or superuser, membership or not.
- A token could create a user in its organization with another company's email address, after which that
  company's genuine mail was quarantined as "ambiguous": an address belongs to one account, any case
  (a 400 naming `email`; the database's unique index on LOWER(email) as the last word).
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets.channels.email_routing import find_user
from tickets.models import Membership
from tickets.models.integrations import ApiToken
from tickets.services.people import customer_create, customer_update

User = get_user_model()
MIGRATION = importlib.import_module("tickets.migrations.0010_customers_are_not_staff_emails_unique")


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@support.example", PASSWORD)


@pytest.fixture
def org_token(root, organization) -> APIClient:
    """An integration acting for `organization`: the superuser's token limited to it."""
    _, key = ApiToken.objects.issue(user=root, name="acme", organization=organization)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def agent_with_membership(organization):
    """A row as main allowed it: an agent given a customer membership (created past the validation)."""
    agent = AgentFactory()
    Membership.objects.create(user=agent, organization=organization)
    return agent


# --- agents are out of reach ------------------------------------------------------------------------------


def test_an_org_token_cannot_see_or_change_an_agent_with_a_membership(org_token, agent_with_membership):
    listed = [row["username"] for row in org_token.get("/api/v1/users/").json()["results"]]
    assert agent_with_membership.username not in listed
    url = f"/api/v1/users/{agent_with_membership.pk}/"
    assert org_token.get(url).status_code == 404
    takeover = org_token.patch(url, {"password": "attacker-chosen-passphrase"}, format="json")
    assert takeover.status_code == 404
    agent_with_membership.refresh_from_db()
    assert agent_with_membership.check_password(PASSWORD)


def test_even_an_unlimited_token_does_not_reach_agents_through_the_users_api(root, agent_with_membership):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.objects.issue(user=root, name='all')[1]}")
    assert client.get(f"/api/v1/users/{agent_with_membership.pk}/").status_code == 404
    su = User.objects.create_superuser("root2", "root2@support.example", PASSWORD)
    Membership.objects.create(user=su, organization=agent_with_membership.membership.organization)
    assert client.get(f"/api/v1/users/{su.pk}/").status_code == 404


def test_the_services_refuse_agents(agent, organization):
    with pytest.raises(ValidationError):
        customer_update(user=agent, password="attacker-chosen-passphrase")
    with pytest.raises(ValidationError):
        Membership(user=agent, organization=organization).full_clean()
    agent.refresh_from_db()
    assert agent.check_password(PASSWORD)


def _user_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "membership-TOTAL_FORMS": "0",
        "membership-INITIAL_FORMS": "0",
        "membership-MIN_NUM_FORMS": "0",
        "membership-MAX_NUM_FORMS": "1",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    membership = getattr(user, "membership", None)
    if membership is not None:
        data |= {
            "membership-TOTAL_FORMS": "1",
            "membership-INITIAL_FORMS": "1",
            "membership-0-id": str(membership.pk),
            "membership-0-user": str(user.pk),
            "membership-0-organization": str(membership.organization_id),
            "membership-0-role": membership.role,
        }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_the_console_refuses_to_make_a_customer_staff(client, root, requester):
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[requester.pk])
    response = client.post(url, _user_form(requester, is_staff="on"))
    assert response.status_code == 200  # the form again, with the error
    assert "cannot be customers of an organization" in response.content.decode()
    requester.refresh_from_db()
    assert not requester.is_staff


def test_the_console_refuses_a_membership_for_an_agent(client, root, agent, organization):
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[agent.pk])
    data = _user_form(agent) | {
        "membership-TOTAL_FORMS": "1",
        "membership-0-organization": str(organization.pk),
        "membership-0-role": "requester",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "cannot be customers of an organization" in response.content.decode()
    assert not Membership.objects.filter(user=agent).exists()
    add = client.post(
        reverse("admin:tickets_membership_add"),
        {"user": agent.pk, "organization": organization.pk, "role": "requester"},
    )
    assert add.status_code == 200 and not Membership.objects.filter(user=agent).exists()


# --- one account per email address ------------------------------------------------------------------------


@pytest.fixture
def globex_ceo(other_organization):
    return CustomerFactory(email="ceo@globex.example", membership__organization=other_organization)


def test_an_org_token_cannot_create_a_user_with_another_companys_address(org_token, organization, globex_ceo):
    response = org_token.post(
        "/api/v1/users/",
        {"username": "impostor", "email": "CEO@Globex.Example", "organization": organization.pk},
        format="json",
    )
    assert response.status_code == 400 and "email" in response.json(), response.content
    assert not User.objects.filter(username="impostor").exists()


def test_nor_give_one_of_its_people_that_address(org_token, requester, globex_ceo):
    response = org_token.patch(
        f"/api/v1/users/{requester.pk}/", {"email": "ceo@GLOBEX.example"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["email"]
    requester.refresh_from_db()
    assert requester.email != "ceo@globex.example"
    # Its own address, in another case, is no conflict.
    same = org_token.patch(
        f"/api/v1/users/{requester.pk}/", {"email": requester.email.upper()}, format="json"
    )
    assert same.status_code == 200


def test_the_genuine_senders_mail_is_still_filed_as_theirs(org_token, organization, globex_ceo):
    org_token.post(
        "/api/v1/users/",
        {"username": "impostor", "email": "ceo@globex.example", "organization": organization.pk},
        format="json",
    )
    assert find_user("ceo@globex.example") == (globex_ceo, True)


def test_the_services_and_the_database_refuse_a_taken_address(organization, globex_ceo):
    with pytest.raises(ValidationError) as refused:
        customer_create(username="impostor", organization=organization, email="Ceo@globex.example")
    assert "email" in refused.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="raw", email="CEO@globex.example")
    # Blank addresses are not addresses: any number of accounts may have none.
    User.objects.create(username="blank1", email="")
    User.objects.create(username="blank2", email="")


def test_the_migration_puts_existing_rows_right(organization, other_organization):
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {MIGRATION.INDEX}")  # rolled back with the test
    agent = AgentFactory(email="Shared@example.com")
    Membership.objects.create(user=agent, organization=organization)
    older = CustomerFactory(email="ann@acme.example", membership__organization=organization)
    newer = CustomerFactory(email="ANN@acme.example", membership__organization=other_organization)
    customer = CustomerFactory(email="shared@EXAMPLE.com", membership__organization=organization)
    MIGRATION.remove_staff_memberships(apps, None)
    MIGRATION.blank_duplicate_emails(apps, None)
    with connection.schema_editor(atomic=False) if connection.vendor != "sqlite" else _sqlite_ddl() as editor:
        MIGRATION.create_index(apps, editor)
    assert not Membership.objects.filter(user=agent).exists()
    assert Membership.objects.filter(user=older).exists()
    emails = {
        user.username: user.email
        for user in User.objects.filter(pk__in=[agent.pk, older.pk, newer.pk, customer.pk])
    }
    assert emails == {
        agent.username: "Shared@example.com",
        older.username: "ann@acme.example",
        newer.username: "",
        customer.username: "",
    }


class _sqlite_ddl:
    """SQLite's schema editor refuses to open inside the test's transaction; the SQL runs as it is."""

    def __enter__(self):
        class Editor:
            quote_name = staticmethod(connection.ops.quote_name)

            @staticmethod
            def execute(sql):
                with connection.cursor() as cursor:
                    cursor.execute(sql)

        return Editor()

    def __exit__(self, *exc):
        return False


def test_org_tokens_still_provision_their_own_customers(org_token, organization):
    response = org_token.post(
        "/api/v1/users/",
        {"username": "newhire", "email": "newhire@acme.example", "organization": organization.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    other = OrganizationFactory()
    moved = org_token.patch(
        f"/api/v1/users/{response.json()['id']}/", {"organization": other.pk}, format="json"
    )
    assert moved.status_code == 400 and "organization" in moved.json()
