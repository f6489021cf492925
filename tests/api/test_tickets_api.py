"""The ticket API in depth: filters, ordering, pagination and the export, the SLA object through a ticket's
life, agents' partial updates and their audit events, refusals as 400s naming the field, idempotent creates,
provisioning, the chart, calendars and holidays, and query counts that do not grow with the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from sla.models import BusinessCalendar, Holiday, ResponseTarget, TicketClock
from sla.sweep import sweep
from tests.factories import PASSWORD, CustomerFactory, TicketFactory
from tickets import services
from tickets.api.idempotency import _fingerprint
from tickets.models import Candidate, Event, Membership, Message, Ticket
from tickets.models.integrations import ApiToken, IdempotencyRecord

User = get_user_model()

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


@pytest.fixture(autouse=True)
def _generous_throttles(monkeypatch):
    """Throttle counters are shared (the cache, Redis in CI): these tests must not trip them."""
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def as_user(db):
    """`as_user(user)`: an API client signed in with a fresh token of `user`."""

    def make(user, *, organization=None) -> APIClient:
        client = APIClient()
        _, key = ApiToken.objects.issue(user=user, name="test", organization=organization)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def create(requester, **options) -> Ticket:
    options.setdefault("subject", "Interview invites not sent")
    options.setdefault("description", "Since this morning")
    return services.ticket_create(requester=requester, **options)


def refs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [ticket["reference"] for ticket in response.json()["results"]]


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- filters ------------------------------------------------------------------------------------------------


def test_filter_severity(as_user, agent, requester):
    s1, s2, s3 = (create(requester, severity=severity) for severity in ("S1", "S2", "S3"))
    client = as_user(agent)
    assert refs(client.get("/api/v1/tickets/?severity=S2")) == [s2.reference]
    assert set(refs(client.get("/api/v1/tickets/?severity=S1&severity=S3"))) == {s1.reference, s3.reference}
    refused = client.get("/api/v1/tickets/?severity=S9")
    assert refused.status_code == 400 and "severity" in refused.json()


def test_filter_status(as_user, agent, requester):
    new = create(requester)
    opened = create(requester)
    services.ticket_reply(ticket=opened, author=agent, body="On it")
    pending = create(requester)
    services.ticket_change_status(ticket=pending, actor=agent, status="pending")
    client = as_user(agent)
    assert refs(client.get("/api/v1/tickets/?status=new")) == [new.reference]
    assert refs(client.get("/api/v1/tickets/?status=open")) == [opened.reference]
    assert set(refs(client.get("/api/v1/tickets/?status=open&status=pending"))) == {
        opened.reference,
        pending.reference,
    }
    assert client.get("/api/v1/tickets/?status=done").status_code == 400


def test_filter_organization(as_user, agent, requester, outsider, other_organization):
    ours, theirs = create(requester), create(outsider)
    client = as_user(agent)
    assert refs(client.get(f"/api/v1/tickets/?organization={other_organization.pk}")) == [theirs.reference]
    assert refs(client.get(f"/api/v1/tickets/?organization={requester.membership.organization_id}")) == [
        ours.reference
    ]
    refused = client.get("/api/v1/tickets/?organization=999999")
    assert refused.status_code == 400 and "organization" in refused.json()


def test_filter_assignee(as_user, agent, other_agent, requester):
    mine, theirs, nobodys = create(requester), create(requester), create(requester)
    services.ticket_assign(ticket=mine, actor=agent, assignee=agent)
    services.ticket_assign(ticket=theirs, actor=agent, assignee=other_agent)
    client = as_user(agent)
    assert refs(client.get("/api/v1/tickets/?assignee=me")) == [mine.reference]
    assert refs(client.get(f"/api/v1/tickets/?assignee={other_agent.pk}")) == [theirs.reference]
    assert refs(client.get("/api/v1/tickets/?assignee=none")) == [nobodys.reference]
    # Not an id, `me` or `none`: a 400 naming the parameter (it was an empty page, hiding the mistake).
    response = client.get("/api/v1/tickets/?assignee=somebody")
    assert response.status_code == 400 and list(response.json()) == ["assignee"]


def test_filter_channel(as_user, agent, requester):
    portal, email = create(requester), create(requester, channel="email")
    client = as_user(agent)
    api = client.post(
        "/api/v1/tickets/", {"subject": "Via API", "description": "d", "requester": requester.pk}
    ).json()
    assert refs(client.get("/api/v1/tickets/?channel=email")) == [email.reference]
    assert refs(client.get("/api/v1/tickets/?channel=portal")) == [portal.reference]
    assert refs(client.get("/api/v1/tickets/?channel=api")) == [api["reference"]]


def test_filter_created_after_and_before(as_user, agent, requester):
    now = timezone.now()
    old = create(requester, at=now - timedelta(days=10))
    middle = create(requester, at=now - timedelta(days=5))
    recent = create(requester, at=now - timedelta(hours=1))
    client = as_user(agent)
    week_ago, two_days_ago = iso(now - timedelta(days=7)), iso(now - timedelta(days=2))
    assert set(refs(client.get("/api/v1/tickets/", {"created_after": week_ago}))) == {
        middle.reference,
        recent.reference,
    }
    assert refs(client.get("/api/v1/tickets/", {"created_before": week_ago})) == [old.reference]
    both = client.get("/api/v1/tickets/", {"created_after": week_ago, "created_before": two_days_ago})
    assert refs(both) == [middle.reference]
    # created_after includes the instant itself; created_before excludes it.
    edges = {"created_after": iso(old.created_at), "created_before": iso(middle.created_at)}
    assert refs(client.get("/api/v1/tickets/", edges)) == [old.reference]
    refused = client.get("/api/v1/tickets/?created_after=yesterday")
    assert refused.status_code == 400 and "created_after" in refused.json()


def test_filter_sla_state(as_user, agent, requester):
    now = timezone.now()
    running = create(requester)
    paused = create(requester)
    services.ticket_change_status(ticket=paused, actor=agent, status="pending")  # resolution pauses
    met = create(requester)
    services.ticket_reply(ticket=met, author=agent, body="Fixed")  # first response met
    services.ticket_change_status(ticket=met, actor=agent, status="resolved")  # resolution met
    breached = create(requester, at=now - timedelta(days=60))
    sweep(now)  # marks the old ticket's clocks breached
    # S1: 30 minutes around the clock; 25 minutes in, it is past the 75% warn-at share but not due.
    at_risk = create(requester, severity="S1", at=now - timedelta(minutes=25))
    client = as_user(agent)

    def states(value):
        return set(refs(client.get(f"/api/v1/tickets/?sla_state={value}")))

    assert states("active") == {running.reference, paused.reference, at_risk.reference}
    assert states("paused") == {paused.reference}
    assert states("met") == {met.reference}
    assert states("breached") == {breached.reference}
    assert states("at_risk") == {at_risk.reference}
    assert client.get("/api/v1/tickets/?sla_state=late").status_code == 400


def test_filter_due_before(as_user, agent, requester):
    urgent = create(requester, severity="S1")  # first response due in 30 minutes
    relaxed = create(requester, severity="S5")  # five business days
    client = as_user(agent)
    soon = iso(timezone.now() + timedelta(hours=2))
    assert refs(client.get("/api/v1/tickets/", {"due_before": soon})) == [urgent.reference]
    later = iso(timezone.now() + timedelta(days=30))
    assert set(refs(client.get("/api/v1/tickets/", {"due_before": later}))) == {
        urgent.reference,
        relaxed.reference,
    }


def test_filter_search(as_user, agent, organization):
    alice = CustomerFactory(email="alice@acme.example", membership__organization=organization)
    bob = CustomerFactory(email="bob@acme.example", membership__organization=organization)
    calendar_sync = create(alice, subject="Calendar sync stopped")
    candidate = create(
        bob, subject="Wrong time zone", candidates=[{"name": "Ada", "email": "ada@cand.example"}]
    )
    client = as_user(agent)

    def search(value):
        return refs(client.get("/api/v1/tickets/", {"search": value}))

    assert search("calendar SYNC") == [calendar_sync.reference]  # subject, case-insensitive
    assert search("alice@acme.example") == [calendar_sync.reference]  # requester email
    assert search("ADA@cand.example") == [candidate.reference]  # candidate email
    assert search(candidate.reference) == [candidate.reference]  # reference
    assert search(str(candidate.pk)) == [candidate.reference]
    assert search("nothing like it") == []


# --- ordering and pagination --------------------------------------------------------------------------------


@pytest.fixture
def three_tickets(requester, agent):
    """a: S3 eight days old (its first response long overdue); b: S1 two hours old, touched last; c: S2."""
    now = timezone.now()
    a = create(requester, severity="S3", at=now - timedelta(days=8))
    b = create(requester, severity="S1", at=now - timedelta(hours=2))
    c = create(requester, severity="S2", at=now - timedelta(hours=1))
    services.ticket_add_note(ticket=b, author=agent, body="Paging engineering")
    return a.reference, b.reference, c.reference


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", "bca"),  # the work queue: S1 first, then the nearest SLA due time, then the oldest
        ("severity", "bca"),
        ("-severity", "acb"),
        ("created_at", "abc"),
        ("-created_at", "cba"),
        ("updated_at", "acb"),
        ("-updated_at", "bca"),
        ("sla_due_at", "abc"),
        ("-sla_due_at", "cba"),
    ],
)
def test_ordering(as_user, agent, three_tickets, ordering, expected):
    by_name = dict(zip("abc", three_tickets, strict=True))
    query = {"ordering": ordering} if ordering else {}
    assert refs(as_user(agent).get("/api/v1/tickets/", query)) == [by_name[x] for x in expected]


def test_page_size_and_its_maximum(as_user, agent, requester):
    TicketFactory.create_batch(105, requester=requester)
    client = as_user(agent)
    default = client.get("/api/v1/tickets/").json()
    assert default["count"] == 105 and len(default["results"]) == 25 and default["next"]
    assert len(client.get("/api/v1/tickets/?page_size=10").json()["results"]) == 10
    capped = client.get("/api/v1/tickets/?page_size=500").json()
    assert len(capped["results"]) == 100
    last = client.get("/api/v1/tickets/?page_size=100&page=2").json()
    assert len(last["results"]) == 5 and last["next"] is None and last["previous"]
    assert client.get("/api/v1/tickets/?page=9").status_code == 404


def test_export_pages_with_a_cursor(as_user, agent, requester):
    tickets = TicketFactory.create_batch(7, requester=requester)
    client = as_user(agent)
    url, seen, pages = "/api/v1/tickets/export/?page_size=3", [], 0
    while url:
        page = client.get(url).json()
        assert "count" not in page  # cursor pages: stable, no count
        seen += [t["reference"] for t in page["results"]]
        url, pages = page["next"], pages + 1
        if pages == 1:
            TicketFactory(requester=requester)  # a new ticket shifts nothing: it comes last
    assert pages == 3
    assert seen[:7] == [t.reference for t in sorted(tickets, key=lambda t: t.pk)]
    assert len(seen) == len(set(seen)) == 8
    filtered = client.get("/api/v1/tickets/export/?severity=S1").json()
    assert filtered["results"] == []


# --- the SLA object -----------------------------------------------------------------------------------------


def test_the_sla_object_through_a_tickets_life(as_user, agent, requester):
    customer = as_user(requester)
    created = customer.post("/api/v1/tickets/", {"subject": "Slow", "description": "d", "severity": "S2"})
    assert created.status_code == 201
    reference, sla = created.json()["reference"], created.json()["sla"]
    assert set(sla) == {"first_response", "next_update", "resolution"}
    assert sla["first_response"]["state"] == "active" and sla["first_response"]["due_at"]
    assert sla["first_response"]["met_at"] is None and sla["first_response"]["breached_at"] is None
    assert sla["next_update"] is None  # the update cadence starts with the first agent reply
    assert sla["resolution"]["state"] == "active"

    staff = as_user(agent)
    reply = staff.post(f"/api/v1/tickets/{reference}/messages/", {"body": "Looking into it"})
    assert reply.status_code == 201
    sla = staff.get(f"/api/v1/tickets/{reference}/").json()["sla"]
    assert sla["first_response"]["state"] == "met"
    assert parse(sla["first_response"]["met_at"]) == parse(reply.json()["created_at"])
    assert sla["next_update"]["state"] == "active" and sla["next_update"]["due_at"]

    pending = staff.patch(f"/api/v1/tickets/{reference}/", {"status": "pending"}).json()
    assert pending["status"] == "pending"
    assert pending["sla"]["next_update"]["state"] == "paused"
    assert pending["sla"]["next_update"]["due_at"] is None
    assert pending["sla"]["resolution"]["state"] == "paused"

    resolved = staff.patch(f"/api/v1/tickets/{reference}/", {"status": "resolved"}).json()
    assert resolved["sla"]["resolution"]["state"] == "met"
    assert resolved["sla"]["resolution"]["met_at"]
    assert resolved["sla"]["first_response"]["state"] == "met"


def test_a_metric_the_chart_does_not_define_is_null(as_user, requester):
    body = as_user(requester).post(
        "/api/v1/tickets/", {"subject": "Typo", "description": "d", "severity": "S4"}
    )
    assert body.json()["sla"]["resolution"] is None and body.json()["sla"]["next_update"] is None


# --- agents' partial updates --------------------------------------------------------------------------------


def test_agent_partial_updates_write_audit_events(as_user, agent, other_agent, requester):
    ticket = create(requester, candidates=[{"name": "Ada", "email": "ada@example.com"}])
    client = as_user(agent)
    url = f"/api/v1/tickets/{ticket.reference}/"

    assert client.patch(url, {"status": "open"}).json()["status"] == "open"
    assert client.patch(url, {"severity": "S2"}).json()["severity"] == "S2"
    assert client.patch(url, {"assignee": other_agent.pk}).json()["assignee"] == other_agent.pk
    assert client.patch(url, {"assignee": None}).json()["assignee"] is None
    intake = client.patch(url, {"product_area": "Scheduling", "impact_scope": "several_users"}).json()
    assert intake["product_area"] == "Scheduling" and intake["impact_scope"] == "several_users"
    interview = client.patch(
        url,
        {
            "interview": {
                "position": "SRE",
                "interviewers": ["Grace", "Linus"],
                "starts_at": "2027-03-01T16:00:00Z",
                "ends_at": "2027-03-01T18:00:00Z",
                "candidates": [{"name": "Bea", "email": "bea@example.com"}, {"name": "Cy"}],
            }
        },
    ).json()["interview"]
    assert interview["candidates"] == [
        {"name": "Bea", "email": "bea@example.com"},
        {"name": "Cy", "email": ""},
    ]
    assert interview["position"] == "SRE" and interview["interviewers"] == ["Grace", "Linus"]
    assert interview["starts_at"] == "2027-03-01T16:00:00Z"
    assert list(Candidate.objects.filter(ticket=ticket).values_list("name", flat=True)) == ["Bea", "Cy"]

    events = client.get(f"{url}events/").json()["results"]
    changes = [(e["kind"], e["from_value"], e["to_value"], e["actor"]) for e in events]
    assert ("status_changed", "new", "open", agent.pk) in changes
    assert ("severity_changed", "S3", "S2", agent.pk) in changes
    assert ("assigned", "", other_agent.username, agent.pk) in changes
    assert ("assigned", other_agent.username, "", agent.pk) in changes
    details = [e["data"]["fields"] for e in events if e["kind"] == "intake_updated"]
    assert sorted(details[0]) == ["impact_scope", "product_area"]
    assert "candidates" in details[1] and "interview_position" in details[1]
    # The customer's timeline shows status and severity, not the assignments or edits.
    customer_kinds = {e["kind"] for e in as_user(requester).get(f"{url}events/").json()["results"]}
    assert customer_kinds == {"created", "status_changed", "severity_changed"}


def test_an_unchanged_field_writes_no_event(as_user, agent, requester):
    ticket = create(requester, candidates=[{"name": "Ada", "email": "ada@example.com"}])
    client = as_user(agent)
    before = Event.objects.filter(ticket=ticket).count()
    same = {"interview": {"candidates": [{"name": "Ada", "email": "ada@example.com"}]}, "assignee": None}
    assert client.patch(f"/api/v1/tickets/{ticket.reference}/", same).status_code == 200
    assert Event.objects.filter(ticket=ticket).count() == before


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"severity": "S9"}, "severity"),
        ({"status": "closed"}, "status"),  # new → closed is no agent move
        ({"status": "done"}, "status"),
        ({"assignee": 999999}, "assignee"),
        (
            {"interview": {"starts_at": "2027-03-01T18:00:00Z", "ends_at": "2027-03-01T16:00:00Z"}},
            "interview",
        ),
        ({"interview": {"candidates": [{"name": "Ada", "email": "not-an-email"}]}}, "interview"),
        ({"subject": ""}, "subject"),
        ({"impact_scope": "everyone"}, "impact_scope"),
    ],
)
def test_agent_refusals_name_the_field(as_user, agent, requester, payload, field):
    ticket = create(requester)
    response = as_user(agent).patch(f"/api/v1/tickets/{ticket.reference}/", payload)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Event.objects.filter(ticket=ticket).exclude(kind="created").exists()


def test_nested_errors_point_at_the_bad_part(as_user, agent, requester):
    client = as_user(agent)
    url = f"/api/v1/tickets/{create(requester).reference}/"
    backwards = client.patch(
        url, {"interview": {"starts_at": "2027-03-01T18:00:00Z", "ends_at": "2027-03-01T16:00:00Z"}}
    ).json()
    assert "ends_at" in backwards["interview"]
    bad_email = client.patch(
        url, {"interview": {"candidates": [{"name": "Ok"}, {"name": "Ada", "email": "nope"}]}}
    ).json()
    assert list(bad_email["interview"]["candidates"]) == ["1"]  # the second candidate, by index
    assert "email" in bad_email["interview"]["candidates"]["1"]


def test_assigning_a_customer_is_refused(as_user, agent, requester, org_admin):
    ticket = create(requester)
    response = as_user(agent).patch(f"/api/v1/tickets/{ticket.reference}/", {"assignee": org_admin.pk})
    assert response.status_code == 400 and "assignee" in response.json()


def test_customer_refusals(as_user, requester):
    client = as_user(requester)
    ticket = create(requester)
    url = f"/api/v1/tickets/{ticket.reference}/"
    transition = client.patch(url, {"status": "pending"})  # customers only resolve or reopen
    assert transition.status_code == 400 and "status" in transition.json()
    regrade = client.patch(url, {"severity": "S1", "subject": "x"})
    assert regrade.status_code == 403 and set(regrade.json()) == {"severity", "subject"}
    assert client.patch(url, {"status": "resolved"}).status_code == 200
    reopened = client.patch(url, {"status": "open"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


def test_create_refusals_name_the_field(as_user, requester):
    client = as_user(requester)
    response = client.post(
        "/api/v1/tickets/",
        {
            "subject": "",
            "severity": "S0",
            "affected_role": "ceo",
            "interview": {
                "starts_at": "2027-03-01T18:00:00Z",
                "ends_at": "2027-03-01T16:00:00Z",
                "candidates": [{"email": "bad"}],
            },
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert {"subject", "description", "severity", "affected_role", "interview"} <= set(body)
    assert not Ticket.objects.exists()
    not_json = client.post("/api/v1/tickets/", "{", content_type="application/json")
    assert not_json.status_code == 400 and "detail" in not_json.json()


def test_a_too_long_idempotency_key_is_refused(as_user, requester):
    response = as_user(requester).post(
        "/api/v1/tickets/", {"subject": "s", "description": "d"}, HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert not Ticket.objects.exists()


def test_a_bad_attachment_is_refused_by_name(as_user, requester):
    ticket = create(requester)
    client = as_user(requester)
    url = f"/api/v1/tickets/{ticket.reference}/attachments/"
    disguised = SimpleUploadedFile("invoice.png", b"<html><script>alert(1)</script></html>")
    response = client.post(url, {"file": disguised}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert client.post(url, {}, format="multipart").json() == {
        "file": ["Attach at least one file (multipart field `file`)."]
    }
    good = client.post(url, {"file": SimpleUploadedFile("shot.png", PNG)}, format="multipart")
    assert good.status_code == 201
    (attachment,) = good.json()
    assert attachment["content_type"] == "image/png" and attachment["size"] == len(PNG)


# --- idempotency --------------------------------------------------------------------------------------------


def test_the_same_key_replays_the_first_response(as_user, requester):
    client = as_user(requester)
    payload = {"subject": "Once", "description": "only once", "severity": "S2"}
    first = client.post("/api/v1/tickets/", payload, HTTP_IDEMPOTENCY_KEY="retry-1")
    again = client.post("/api/v1/tickets/", payload, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1 and Event.objects.count() == 1


def test_the_same_key_with_another_body_is_422(as_user, requester):
    client = as_user(requester)
    client.post("/api/v1/tickets/", {"subject": "One", "description": "d"}, HTTP_IDEMPOTENCY_KEY="k1")
    other = client.post("/api/v1/tickets/", {"subject": "Two", "description": "d"}, HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 422 and "detail" in other.json()
    assert Ticket.objects.count() == 1


def test_the_same_key_of_another_user_is_independent(as_user, requester, org_admin):
    payload = {"subject": "Same", "description": "d"}
    mine = as_user(requester).post("/api/v1/tickets/", payload, HTTP_IDEMPOTENCY_KEY="shared")
    theirs = as_user(org_admin).post("/api/v1/tickets/", payload, HTTP_IDEMPOTENCY_KEY="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["reference"] != theirs.json()["reference"]
    assert theirs.json()["requester"] == org_admin.pk and "Idempotent-Replayed" not in theirs


def test_a_key_still_in_progress_is_409(as_user, requester):
    payload = {"subject": "Slow", "description": "d"}
    request = Request(
        APIRequestFactory().post("/api/v1/tickets/", payload, format="json"), parsers=[JSONParser()]
    )
    IdempotencyRecord.objects.create(
        user=requester, key="busy", path="/api/v1/tickets/", request_hash=_fingerprint(request)
    )
    response = as_user(requester).post("/api/v1/tickets/", payload, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409 and "detail" in response.json()
    assert not Ticket.objects.exists()


def test_a_refused_request_does_not_keep_its_key(as_user, requester):
    client = as_user(requester)
    bad = client.post("/api/v1/tickets/", {"subject": "Fix me"}, HTTP_IDEMPOTENCY_KEY="k2")
    assert bad.status_code == 400
    good = client.post(
        "/api/v1/tickets/", {"subject": "Fix me", "description": "d"}, HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert good.status_code == 201


def test_messages_are_idempotent_too(as_user, requester):
    ticket = create(requester)
    client = as_user(requester)
    url = f"/api/v1/tickets/{ticket.reference}/messages/"
    first = client.post(url, {"body": "Any news?"}, HTTP_IDEMPOTENCY_KEY="m-1")
    again = client.post(url, {"body": "Any news?"}, HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.json() == again.json()
    assert Message.objects.filter(ticket=ticket).count() == 1


# --- provisioning -------------------------------------------------------------------------------------------


def test_provision_an_organization_and_a_customer_who_opens_a_ticket(as_user, superuser):
    staff = as_user(superuser)
    organization = staff.post("/api/v1/organizations/", {"name": "Globex", "timezone": "Europe/Paris"})
    assert organization.status_code == 201
    org_id = organization.json()["id"]
    user = staff.post(
        "/api/v1/users/",
        {
            "username": "hank",
            "email": "hank@globex.example",
            "password": "scorpio-volcano-hammock",
            "organization": org_id,
            "role": "admin",
        },
    )
    assert user.status_code == 201, user.content
    assert "password" not in user.json()
    assert user.json()["organization"] == org_id and user.json()["role"] == "admin"
    assert Membership.objects.get(user__username="hank").is_admin

    anonymous = APIClient()
    token = anonymous.post("/api/v1/auth/token/", {"username": "hank", "password": "scorpio-volcano-hammock"})
    assert token.status_code == 200
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    ticket = anonymous.post("/api/v1/tickets/", {"subject": "Hello", "description": "First ticket"})
    assert ticket.status_code == 201
    assert ticket.json()["organization"] == org_id and ticket.json()["channel"] == "api"
    listed = staff.get("/api/v1/users/").json()["results"]
    assert [u["username"] for u in listed] == ["hank"]


def test_provisioning_refusals(as_user, superuser, requester):
    staff = as_user(superuser)
    weak = staff.post(
        "/api/v1/users/",
        {"username": "x", "password": "123", "organization": requester.membership.organization_id},
    )
    assert weak.status_code == 400 and "password" in weak.json()
    taken = staff.post(
        "/api/v1/users/",
        {
            "username": requester.username,
            "organization": requester.membership.organization_id,
            "role": "boss",
        },
    )
    assert taken.status_code == 400 and {"username", "role"} <= set(taken.json())
    duplicate = staff.post("/api/v1/organizations/", {"name": requester.membership.organization.name})
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    bad_zone = staff.post("/api/v1/organizations/", {"name": "Zoneless", "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and "timezone" in bad_zone.json()
    in_use = staff.delete(f"/api/v1/organizations/{requester.membership.organization_id}/")
    assert in_use.status_code == 400 and "non_field_errors" in in_use.json()


def test_a_user_without_password_cannot_get_a_token(as_user, superuser, organization):
    staff = as_user(superuser)
    staff.post("/api/v1/users/", {"username": "nopass", "organization": organization.pk})
    response = APIClient().post("/api/v1/auth/token/", {"username": "nopass", "password": ""})
    assert response.status_code == 400 and "password" in response.json()
    response = APIClient().post("/api/v1/auth/token/", {"username": "nopass", "password": "guess"})
    assert response.status_code == 400 and "non_field_errors" in response.json()


# --- the chart, calendars and holidays ----------------------------------------------------------------------


def test_anyone_signed_in_reads_the_chart(as_user, requester):
    rows = as_user(requester).get("/api/v1/response-targets/").json()
    assert [r["severity"] for r in rows] == ["S1", "S2", "S3", "S4", "S5"]
    s2 = as_user(requester).get("/api/v1/response-targets/S2/").json()
    assert s2 == {
        "severity": "S2",
        "first_response_minutes": 240,
        "first_response_clock": "business",
        "update_minutes": 540,
        "update_clock": "business",
        "resolution_minutes": 1620,
        "resolution_clock": "business",
        "warn_at_percent": 75,
        "definition": s2["definition"],
    }
    assert APIClient().get("/api/v1/response-targets/").status_code == 401


def test_a_superuser_changes_the_chart_and_the_next_ticket_follows(as_user, superuser, agent, requester):
    refused = as_user(agent).patch("/api/v1/response-targets/S2/", {"first_response_minutes": 60})
    assert refused.status_code == 403
    changed = as_user(superuser).patch(
        "/api/v1/response-targets/S2/", {"first_response_minutes": 60, "first_response_clock": "24x7"}
    )
    assert changed.status_code == 200
    assert changed.json()["first_response_minutes"] == 60 and changed.json()["first_response_clock"] == "24x7"
    assert ResponseTarget.objects.get(severity="S2").first_response_minutes == 60
    ticket = as_user(requester).post(
        "/api/v1/tickets/", {"subject": "s", "description": "d", "severity": "S2"}
    )
    body = ticket.json()
    assert parse(body["sla"]["first_response"]["due_at"]) == parse(body["created_at"]) + timedelta(minutes=60)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_response_minutes": 0}, "first_response_minutes"),
        ({"warn_at_percent": 100}, "warn_at_percent"),
        ({"update_clock": "weekly"}, "update_clock"),
        ({"definition": ""}, "definition"),
    ],
)
def test_chart_refusals(as_user, superuser, payload, field):
    response = as_user(superuser).patch("/api/v1/response-targets/S3/", payload)
    assert response.status_code == 400 and field in response.json()


def test_a_chart_row_can_drop_a_target(as_user, superuser, requester):
    response = as_user(superuser).patch("/api/v1/response-targets/S3/", {"resolution_minutes": None})
    assert response.status_code == 200 and response.json()["resolution_minutes"] is None
    ticket = as_user(requester).post(
        "/api/v1/tickets/", {"subject": "s", "description": "d", "severity": "S3"}
    )
    assert ticket.json()["sla"]["resolution"] is None


def test_calendars_are_created_with_their_hours(as_user, superuser, requester):
    staff = as_user(superuser)
    created = staff.post(
        "/api/v1/calendars/",
        {
            "name": "Support APAC",
            "timezone": "Asia/Tokyo",
            "hours": [
                {"weekday": 0, "start": "09:00", "end": "18:00"},
                {"weekday": 5, "start": "22:00", "end": "00:00"},
            ],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["hours"] == [
        {"weekday": 0, "start": "09:00", "end": "18:00"},
        {"weekday": 5, "start": "22:00", "end": "00:00"},
    ]
    assert body["is_default"] is False
    assert as_user(requester).get(f"/api/v1/calendars/{body['id']}/").json() == body
    replaced = staff.patch(
        f"/api/v1/calendars/{body['id']}/", {"hours": [{"weekday": 2, "start": "10:00", "end": "12:00"}]}
    )
    assert replaced.json()["hours"] == [{"weekday": 2, "start": "10:00", "end": "12:00"}]
    assert staff.delete(f"/api/v1/calendars/{body['id']}/").status_code == 204
    assert not BusinessCalendar.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"hours": []}, "hours"),
        ({"hours": [{"weekday": 0, "start": "18:00", "end": "09:00"}]}, "hours"),
        ({"hours": [{"weekday": 7, "start": "09:00", "end": "18:00"}]}, "hours"),
        ({"hours": [{"weekday": 0, "start": "9am", "end": "18:00"}]}, "hours"),
        ({"timezone": "Pacific/Atlantis"}, "timezone"),
        ({"is_default": True}, "is_default"),  # the shipped Pacific calendar is the default
        ({"name": ""}, "name"),
    ],
)
def test_calendar_refusals(as_user, superuser, payload, field):
    data = {
        "name": "Support EMEA",
        "timezone": "Europe/Berlin",
        "hours": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
        **payload,
    }
    response = as_user(superuser).post("/api/v1/calendars/", data)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_calendar_targets_count_on_cannot_be_deleted(as_user, superuser, requester):
    staff = as_user(superuser)
    default = BusinessCalendar.objects.get(is_default=True)
    refused = staff.delete(f"/api/v1/calendars/{default.pk}/")
    assert refused.status_code == 400 and "non_field_errors" in refused.json()
    assert staff.patch(f"/api/v1/calendars/{default.pk}/", {"is_default": False}).status_code == 200
    assert staff.delete(f"/api/v1/calendars/{default.pk}/").status_code == 400  # the only one left
    ticket = as_user(requester).post("/api/v1/tickets/", {"subject": "s", "description": "d"})
    assert ticket.status_code == 201 and ticket.json()["sla"]["first_response"]["due_at"]


def test_holidays_crud(as_user, superuser, requester):
    staff = as_user(superuser)
    calendar = BusinessCalendar.objects.get(is_default=True)
    created = staff.post(
        "/api/v1/holidays/", {"calendar": calendar.pk, "date": "2029-08-01", "name": "Picnic"}
    )
    assert created.status_code == 201
    holiday = created.json()
    assert holiday == {
        "id": holiday["id"],
        "calendar": calendar.pk,
        "date": "2029-08-01",
        "name": "Picnic",
        "kind": "day_off",
        "source": "manual",
    }
    listed = as_user(requester).get(f"/api/v1/holidays/?calendar={calendar.pk}&page_size=100").json()
    assert holiday in listed["results"]
    assert listed["count"] == Holiday.objects.filter(calendar=calendar).count()
    again = staff.post("/api/v1/holidays/", {"calendar": calendar.pk, "date": "2029-08-01", "name": "Twice"})
    assert again.status_code == 400 and "non_field_errors" in again.json()
    renamed = staff.patch(f"/api/v1/holidays/{holiday['id']}/", {"name": "Summer picnic"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Summer picnic"
    moved = staff.put(
        f"/api/v1/holidays/{holiday['id']}/",
        {"calendar": calendar.pk, "date": "2029-08-02", "name": "Picnic"},
    )
    assert moved.status_code == 200 and moved.json()["date"] == "2029-08-02"
    bad = staff.patch(f"/api/v1/holidays/{holiday['id']}/", {"date": "2029-02-30"})
    assert bad.status_code == 400 and "date" in bad.json()
    assert staff.delete(f"/api/v1/holidays/{holiday['id']}/").status_code == 204
    assert staff.get(f"/api/v1/holidays/{holiday['id']}/").status_code == 404


# --- query counts -------------------------------------------------------------------------------------------


def _tickets_with_relations(requester, agent, count: int) -> list[Ticket]:
    tickets = []
    for n in range(count):
        ticket = create(
            requester,
            severity=("S1", "S2", "S3")[n % 3],
            candidates=[{"name": f"Candidate {n}", "email": f"c{n}@example.com"}, {"name": f"Other {n}"}],
        )
        if n % 2:
            services.ticket_assign(ticket=ticket, actor=agent, assignee=agent)
        tickets.append(ticket)
    assert TicketClock.objects.filter(ticket__in=tickets).count() >= 2 * count
    return tickets


def _queries(client, url: str) -> int:
    client.get(url)  # warm up: the token's last_used_at, the chart cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def query_counts(as_user, agent, organization):
    """The queries of the ticket list, a ticket's detail and its messages, with `count` tickets/messages."""

    def measure(count: int) -> dict[str, int]:
        requester = CustomerFactory(membership__organization=organization)
        tickets = _tickets_with_relations(requester, agent, count)
        ticket = tickets[0]
        for n in range(count):
            if n % 3 == 2:
                services.ticket_add_note(ticket=ticket, author=agent, body=f"note {n}")
            else:
                message = services.ticket_reply(ticket=ticket, author=requester, body=f"message {n}")
                services.attachment_add(
                    ticket=ticket,
                    uploaded_by=requester,
                    upload=SimpleUploadedFile(f"s{n}.png", PNG),
                    message=message,
                )
        counts = {}
        for who, client in (("agent", as_user(agent)), ("customer", as_user(requester))):
            ticket_list = client.get("/api/v1/tickets/?page_size=100").json()
            assert len(ticket_list["results"]) == count
            counts[f"{who} list"] = _queries(client, "/api/v1/tickets/?page_size=100")
            counts[f"{who} detail"] = _queries(client, f"/api/v1/tickets/{ticket.reference}/")
            counts[f"{who} messages"] = _queries(
                client, f"/api/v1/tickets/{ticket.reference}/messages/?page_size=100"
            )
            counts[f"{who} export"] = _queries(client, "/api/v1/tickets/export/")
        return counts

    return measure


def test_query_counts_do_not_grow_with_the_data(query_counts, agent):
    few = query_counts(10)
    Ticket.objects.all().delete()  # the second round starts from nothing, too
    many = query_counts(100)
    assert few == many
    assert max(few.values()) <= 8, few


def test_a_key_is_not_replayed_to_a_token_limited_to_another_organization(
    as_user, superuser, requester, outsider
):
    body = {"subject": "Invites bounce", "description": "d", "requester": requester.pk}
    first = as_user(superuser).post("/api/v1/tickets/", body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert first.status_code == 201
    limited = as_user(superuser, organization=outsider.membership.organization)

    again = limited.post("/api/v1/tickets/", body, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert again.status_code == 422
    assert first.json()["reference"] not in again.content.decode()
    assert Ticket.objects.count() == 1
