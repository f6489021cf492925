"""factory_boy factories for the domain. Tickets made here skip the services (fast fixtures); tests of
behaviour create tickets through `tickets.services` instead."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets.models import Candidate, Membership, Organization, Severity, Status, Ticket

User = get_user_model()
PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class AgentFactory(UserFactory):
    username = factory.Sequence(lambda n: f"agent{n}")
    is_staff = True

    @factory.post_generation
    def agents_group(self, create, extracted, **kwargs):
        if create:
            from tickets.agents import ensure_agents_group

            self.groups.add(ensure_agents_group())


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Customer {n} Inc.")
    timezone = "America/New_York"


class CustomerFactory(UserFactory):
    """A customer: `CustomerFactory(membership__organization=org, membership__role="admin")`."""

    username = factory.Sequence(lambda n: f"customer{n}")

    @factory.post_generation
    def membership(self, create, extracted, organization=None, role=Membership.Role.REQUESTER, **kwargs):
        if create:
            Membership.objects.create(
                user=self, organization=organization or OrganizationFactory(), role=role
            )


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    requester = factory.SubFactory(CustomerFactory)
    organization = factory.LazyAttribute(lambda t: t.requester.membership.organization)
    subject = factory.Faker("sentence", nb_words=6)
    description = factory.Faker("paragraph")
    severity = Severity.S3
    status = Status.NEW
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda t: t.created_at)


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candidate

    ticket = factory.SubFactory(TicketFactory)
    name = factory.Faker("name")
    email = factory.Faker("email")
