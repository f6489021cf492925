"""Permissions are read in one query (helpdesk.auth_backends.PermissionsBackend) and answer as Django's
ModelBackend does: a user's own, their groups', none for an inactive user, all for a superuser."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
ASKED = ("tickets.change_ticket", "tickets.view_ticket", "tickets.delete_ticket", "sla.view_slapolicy")


def fresh(user):
    return User.objects.get(pk=user.pk)  # no permission cache


@pytest.fixture
def people(db):
    own = UserFactory(is_staff=True)
    own.user_permissions.add(Permission.objects.get(codename="view_slapolicy"))
    grouped = UserFactory(is_staff=True)
    group = Group.objects.create(name="Readers")
    group.permissions.add(Permission.objects.get(codename="view_ticket"))
    grouped.groups.add(group)
    grouped.user_permissions.add(Permission.objects.get(codename="view_slapolicy"))
    inactive = AgentFactory(is_active=False)
    return [own, grouped, AgentFactory(), inactive, UserFactory(is_superuser=True, is_staff=True)]


def test_answers_as_model_backend(people):
    for person in people:
        ours, djangos = fresh(person), fresh(person)
        assert [ours.has_perm(perm) for perm in ASKED] == [
            ModelBackend().has_perm(djangos, perm) for perm in ASKED
        ], person
        assert ours.get_all_permissions() == ModelBackend().get_all_permissions(fresh(person))
        assert ours.has_module_perms("tickets") == ModelBackend().has_module_perms(fresh(person), "tickets")


def test_one_query_then_none(people):
    agent = fresh(people[2])
    with CaptureQueriesContext(connection) as reading:
        assert agent.has_module_perms("tickets")
        assert agent.has_perm("tickets.change_ticket")
        assert not agent.has_perm(
            "tickets.delete_ticket"
        )  # every backend asked: ModelBackend's cache is ours
        assert not agent.has_module_perms("auth")
    assert len(reading) == 1
