"""SLA policies (support plans): an organization on a policy gets that policy's chart and calendar for
its new tickets; the default policy `Standard` and `/api/v1/response-targets/` serve everyone else as
before; moving an organization applies to new tickets, and to its open ones when staff re-target them."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.parser import isoparse
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from sla.models import BusinessCalendar, BusinessHours, Metric, ResponseTarget, SlaPolicy, TicketClock
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Event, Organization
from tickets.models.integrations import ApiToken

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


def client_for(user, *, organization=None) -> APIClient:
    client = APIClient()
    _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def london():
    calendar = BusinessCalendar.objects.create(
        name="Support UK", timezone="Europe/London", holiday_country="GB", holiday_subdivision="ENG"
    )
    BusinessHours.objects.bulk_create(
        BusinessHours(calendar=calendar, weekday=day, start=time(9), end=time(17)) for day in range(5)
    )
    return calendar


def make_policy(name: str, calendar: BusinessCalendar, **targets) -> SlaPolicy:
    """A policy whose five rows all set the same `targets`."""
    plan = SlaPolicy.objects.create(name=name, calendar=calendar)
    for severity in ("S1", "S2", "S3", "S4", "S5"):
        ResponseTarget.objects.create(policy=plan, severity=severity, definition="x", **targets)
    return plan


def enterprise_payload(calendar_id: int) -> dict:
    """S1 and S2 answered within an hour and four hours, any hour (24x7); the rest in business hours."""
    return {
        "name": "Enterprise",
        "calendar": calendar_id,
        "description": "24/7 for S1 and S2.",
        "targets": [
            {
                "severity": "S1",
                "first_response_minutes": 15,
                "first_response_clock": "24x7",
                "definition": "Down",
            },
            {
                "severity": "S2",
                "first_response_minutes": 240,
                "first_response_clock": "24x7",
                "definition": "Broken",
            },
            {"severity": "S3", "first_response_minutes": 540, "definition": "Minor"},
            {"severity": "S4", "first_response_minutes": 1080, "definition": "Cosmetic"},
            {"severity": "S5", "definition": "Feature request"},
        ],
    }


def test_the_shipped_chart_is_the_default_policy_standard():
    standard = SlaPolicy.objects.get(is_default=True)
    assert standard.name == "Standard"
    assert standard.calendar == BusinessCalendar.objects.get(is_default=True)
    assert sorted(standard.targets.values_list("severity", flat=True)) == ["S1", "S2", "S3", "S4", "S5"]


def test_two_organizations_on_two_policies_get_each_their_own_due_times(superuser, london):
    staff = client_for(superuser)
    created = staff.post("/api/v1/sla-policies/", enterprise_payload(london.pk), format="json")
    assert created.status_code == 201, created.content
    policy = created.json()
    assert [row["severity"] for row in policy["targets"]] == ["S1", "S2", "S3", "S4", "S5"]
    org = staff.post(
        "/api/v1/organizations/",
        {"name": "Big Corp", "timezone": "Europe/London", "sla_policy": policy["id"]},
        format="json",
    )
    assert org.status_code == 201 and org.json()["sla_policy"] == policy["id"]
    user = staff.post(
        "/api/v1/users/",
        {
            "username": "ops",
            "email": "ops@bigcorp.example",
            "password": "a-long-enough-passphrase",
            "organization": org.json()["id"],
        },
        format="json",
    )
    assert user.status_code == 201, user.content
    standard_customer = CustomerFactory()

    def s2_due(customer) -> tuple[datetime, datetime]:
        ticket = client_for(customer).post(
            "/api/v1/tickets/", {"subject": "Reports broken", "description": "Since 9:40.", "severity": "S2"}
        )
        assert ticket.status_code == 201, ticket.content
        body = ticket.json()
        return isoparse(body["created_at"]), isoparse(body["sla"]["first_response"]["due_at"])

    created_at, due = s2_due(get_user_model().objects.get(username="ops"))
    assert due - created_at == timedelta(hours=4)  # Enterprise: 4 hours, any hour
    created_at, due = s2_due(standard_customer)
    # Standard: 4 business hours in Los Angeles, so never less than four hours of wall-clock time.
    assert due - created_at >= timedelta(hours=4)
    # Enterprise sets no resolution target for S2: the ticket has a 24x7 first-response clock only.
    clocks = TicketClock.objects.filter(ticket__organization__name="Big Corp")
    assert list(clocks.values_list("metric", "clock")) == [("first_response", "24x7")]
    # The default chart's endpoint is the Standard policy's, as before.
    s2 = client_for(standard_customer).get("/api/v1/response-targets/S2/").json()
    assert (s2["first_response_minutes"], s2["first_response_clock"]) == (240, "business")


def test_a_policy_counts_on_its_own_calendar_across_its_zone_s_dst_change(london):
    """A London policy with a 9-hour (540-minute) business target. Filed on Friday 29 October 2027 at
    16:00 London time (BST): one hour on Friday, eight on Monday 1 November 09:00–17:00 (GMT since
    Sunday), so due at 17:00 UTC; Los Angeles, still on PDT until 7 November, plays no part."""
    plan = make_policy("UK", london, first_response_minutes=540)
    customer = CustomerFactory(membership__organization=OrganizationFactory(sla_policy=plan))

    def due(filed: datetime) -> datetime:
        ticket = services.ticket_create(requester=customer, subject="s", description="d", at=filed)
        assert (ticket.sla_policy, ticket.sla_calendar) == (plan, london)
        return TicketClock.objects.get(ticket=ticket, metric=Metric.FIRST_RESPONSE).due_at

    assert due(datetime(2027, 10, 29, 16, tzinfo=LONDON)) == datetime(2027, 11, 1, 17, tzinfo=UTC)
    # England's spring bank holiday (Monday 31 May 2027) comes from the calendar's rule (GB-ENG).
    assert due(datetime(2027, 5, 28, 16, tzinfo=LONDON)) == datetime(2027, 6, 1, 17, tzinfo=LONDON)
    # Good Friday and Easter Monday 2027 (26 and 29 March), around the spring DST change (28 March):
    # filed Thursday 25 March 16:00 GMT, one hour then, eight on Tuesday 30 March (BST).
    assert due(datetime(2027, 3, 25, 16, tzinfo=LONDON)) == datetime(2027, 3, 30, 16, tzinfo=UTC)


def test_moving_an_organization_applies_to_new_tickets_and_re_targets_open_ones_on_request(london):
    agent = AgentFactory()
    plan = make_policy("24/7", london, first_response_minutes=60, first_response_clock="24x7")
    organization = OrganizationFactory()
    customer = CustomerFactory(membership__organization=organization)
    filed = datetime(2026, 12, 7, 10, tzinfo=LA)  # a Monday, 10:00 Pacific
    before = services.ticket_create(requester=customer, subject="a", description="b", severity="S3", at=filed)
    standard_due = TicketClock.objects.get(ticket=before, metric=Metric.FIRST_RESPONSE).due_at
    assert standard_due == datetime(2026, 12, 8, 10, tzinfo=LA)  # one business day

    organization.sla_policy = plan
    organization.save()
    after = services.ticket_create(requester=customer, subject="c", description="d", severity="S3", at=filed)
    assert TicketClock.objects.get(ticket=after, metric=Metric.FIRST_RESPONSE).due_at == filed + timedelta(
        hours=1
    )
    # The open ticket keeps its plan until staff ask.
    assert TicketClock.objects.get(ticket=before, metric=Metric.FIRST_RESPONSE).due_at == standard_due

    changed = services.organization_apply_sla_policy(
        organization=organization, actor=agent, at=filed + timedelta(minutes=20)
    )
    assert changed == 1  # `after` already counts on it
    clock = TicketClock.objects.get(ticket=before, metric=Metric.FIRST_RESPONSE)
    assert clock.due_at == filed + timedelta(hours=1)  # from the original start: 20 minutes already elapsed
    before.refresh_from_db()
    assert before.sla_policy == plan and before.sla_calendar == london
    event = Event.objects.get(ticket=before, kind=Event.Kind.SLA_POLICY_CHANGED)
    assert (event.from_value, event.to_value, event.actor) == ("Standard", "24/7", agent)
    assert services.organization_apply_sla_policy(organization=organization, actor=agent) == 0


def test_a_re_target_past_the_new_due_time_breaches_at_once(london):
    agent = AgentFactory()
    plan = make_policy("Fast", london, first_response_minutes=30, first_response_clock="24x7")
    organization = OrganizationFactory()
    customer = CustomerFactory(membership__organization=organization)
    filed = datetime(2026, 12, 7, 10, tzinfo=LA)
    ticket = services.ticket_create(requester=customer, subject="a", description="b", severity="S3", at=filed)
    organization.sla_policy = plan
    organization.save()
    services.ticket_apply_sla_policy(ticket=ticket, actor=agent, at=filed + timedelta(hours=2))
    clock = TicketClock.objects.get(ticket=ticket, metric=Metric.FIRST_RESPONSE)
    assert clock.state == "breached" and clock.due_at == filed + timedelta(minutes=30)


def test_an_organization_token_cannot_change_its_own_plan(superuser, organization):
    premium = SlaPolicy.objects.create(name="Premium", calendar=BusinessCalendar.objects.get(is_default=True))
    limited = client_for(superuser, organization=organization)
    refused = limited.patch(
        f"/api/v1/organizations/{organization.pk}/", {"sla_policy": premium.pk}, format="json"
    )
    assert refused.status_code == 400 and "sla_policy" in refused.json()
    assert Organization.objects.get(pk=organization.pk).sla_policy is None
    renamed = limited.patch(f"/api/v1/organizations/{organization.pk}/", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200
    staff = client_for(superuser)
    moved = staff.patch(
        f"/api/v1/organizations/{organization.pk}/", {"sla_policy": premium.pk}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["sla_policy"] == premium.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(targets=p["targets"][:4]), "targets"),
        (lambda p: p["targets"][4].update(severity="S1"), "targets"),
        (lambda p: p.update(is_default=True), "is_default"),
        (lambda p: p.update(calendar=987654), "calendar"),
        (lambda p: p["targets"][0].update(first_response_minutes=0), "targets"),
        (lambda p: p.update(name="Standard"), "name"),
    ],
)
def test_policy_refusals_name_the_field(superuser, change, field):
    payload = enterprise_payload(BusinessCalendar.objects.get(is_default=True).pk)
    change(payload)
    response = client_for(superuser).post("/api/v1/sla-policies/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_policy_in_use_or_the_default_cannot_be_deleted(superuser, london):
    staff = client_for(superuser)
    standard = SlaPolicy.objects.get(is_default=True)
    assert staff.delete(f"/api/v1/sla-policies/{standard.pk}/").status_code == 400
    used = SlaPolicy.objects.create(name="Used", calendar=london)
    OrganizationFactory(sla_policy=used)
    refused = staff.delete(f"/api/v1/sla-policies/{used.pk}/")
    assert refused.status_code == 400 and "non_field_errors" in refused.json()
    # Nor a calendar a policy counts on.
    assert staff.delete(f"/api/v1/calendars/{london.pk}/").status_code == 400
    unused = SlaPolicy.objects.create(name="Unused", calendar=london)
    assert staff.delete(f"/api/v1/sla-policies/{unused.pk}/").status_code == 204


def test_the_portal_shows_a_customer_their_own_plan(client, london):
    plan = SlaPolicy.objects.create(name="Enterprise", calendar=london, description="24/7 for S1 and S2.")
    ResponseTarget.objects.create(
        policy=plan,
        severity="S2",
        first_response_minutes=60,
        first_response_clock="24x7",
        definition="Broken",
    )
    public = client.get("/support/response-targets/").content.decode()
    assert "4 business hours" in public and "Enterprise" not in public
    customer = CustomerFactory(membership__organization=OrganizationFactory(sla_policy=plan))
    client.force_login(customer)
    own = client.get("/support/response-targets/").content.decode()
    assert "Enterprise" in own and "60 minutes, 24/7" in own and "Europe/London" in own


def test_the_console_makes_a_policy_as_a_copy_of_the_default_and_re_targets_an_organization(
    client, superuser
):
    client.force_login(superuser)
    form = client.get(reverse("admin:sla_slapolicy_add"))
    assert form.status_code == 200 and "Service unusable for critical functions" in form.content.decode()
    data = {"name": "Copy", "calendar": BusinessCalendar.objects.get(is_default=True).pk, "description": ""}
    data |= {"targets-TOTAL_FORMS": "5", "targets-INITIAL_FORMS": "0", "targets-MIN_NUM_FORMS": "5"}
    for index, row in enumerate(SlaPolicy.objects.get(is_default=True).targets.order_by("severity")):
        for field in ("severity", "first_response_minutes", "first_response_clock", "update_clock"):
            data[f"targets-{index}-{field}"] = getattr(row, field) or ""
        data[f"targets-{index}-resolution_clock"] = row.resolution_clock
        data[f"targets-{index}-warn_at_percent"] = row.warn_at_percent
        data[f"targets-{index}-definition"] = row.definition
    saved = client.post(reverse("admin:sla_slapolicy_add"), data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    copy = SlaPolicy.objects.get(name="Copy")
    assert copy.targets.count() == 5 and not copy.is_default

    organization = OrganizationFactory(sla_policy=copy)
    response = client.post(
        reverse("admin:tickets_organization_changelist"),
        {"action": "apply_sla_policy", "_selected_action": [organization.pk]},
        follow=True,
    )
    assert "0 open tickets re-targeted on Copy" in response.content.decode()


def test_the_console_s_chart_and_hours_rows_name_their_inputs(client, superuser):
    """Tabular rows label their inputs for screen readers (the column heading is no label)."""
    client.force_login(superuser)
    policy_page = client.get(reverse("admin:sla_slapolicy_add")).content.decode()
    assert 'aria-label="First response minutes"' in policy_page
    assert 'aria-label="Severity"' in policy_page
    calendar = BusinessCalendar.objects.get(is_default=True)
    calendar_page = client.get(
        reverse("admin:sla_businesscalendar_change", args=[calendar.pk])
    ).content.decode()
    assert 'aria-label="Weekday"' in calendar_page and 'aria-label="Delete"' in calendar_page


def test_staff_re_target_an_organization_s_open_tickets_through_the_api(superuser, london):
    plan = make_policy("24/7", london, first_response_minutes=60, first_response_clock="24x7")
    organization, other = OrganizationFactory(), OrganizationFactory()
    customer = CustomerFactory(membership__organization=organization)
    filed = datetime(2026, 12, 7, 10, tzinfo=LA)
    ticket = services.ticket_create(requester=customer, subject="a", description="b", severity="S3", at=filed)
    organization.sla_policy = plan
    organization.save()
    url = f"/api/v1/organizations/{organization.pk}/apply-sla-policy/"

    # A token limited to the organization may not; neither may a customer (no such permission).
    limited = client_for(superuser, organization=organization)
    assert limited.post(url).status_code == 403
    assert client_for(customer).post(url).status_code in (403, 404)
    # Another organization's token does not even see it.
    assert client_for(superuser, organization=other).post(url).status_code == 404
    ticket.refresh_from_db()
    assert ticket.sla_policy != plan

    answered = client_for(superuser).post(url)
    assert answered.status_code == 200, answered.content
    assert answered.json() == {"organization": organization.pk, "retargeted": 1}
    ticket.refresh_from_db()
    assert ticket.sla_policy == plan and ticket.sla_calendar == london
    # Repeating it changes nothing.
    assert client_for(superuser).post(url).json()["retargeted"] == 0
    assert client_for(superuser).post("/api/v1/organizations/999999/apply-sla-policy/").status_code == 404
