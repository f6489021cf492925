"""Property-based checks of the whole API against its own OpenAPI document (schemathesis): for every
operation, generated requests (valid and invalid) sent through Django's WSGI application must never answer
5xx, and every answer must be a documented status code with a documented content type, headers and a body
matching the schema.

Each operation runs as the roles that reach its code: the ticket operations as an agent and as a customer
(whose requests take other paths: their own tickets only, public messages only, fewer editable fields), the
rest (the chart, calendars, provisioning, webhooks, the token endpoint) as a superuser, since agents may
only read them. The two tests split the operations by `is_ticket_operation`, so none is left out.

The budget is fixed (seed 1042, derandomized Hypothesis, `max_examples=20`: 20 requests per operation and
role, up to some 200 where the coverage phase enumerates query parameters; about 2,200 in all), so the run
is repeatable and takes a minute or so.
"""

from __future__ import annotations

import contextlib

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sla.models import BusinessCalendar, BusinessHours, Holiday, SlaPolicy
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Article
from tickets.models.integrations import ApiToken, WebhookSubscription

User = get_user_model()

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

#: Valid and invalid requests: the explicit examples, the coverage phase (boundaries and each kind of
#: invalid value) and the fuzzer. The coverage phase has no budget and enumerates every value of an enum: it
#: is off for the writes that carry a time zone (some 400 of them), which the fuzzer still covers.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 1042,
        "generation": {"mode": "all"},
        "operations": [
            {
                "include-path-regex": "^/api/v1/(organizations|calendars)/",
                "include-method": ["POST", "PUT", "PATCH"],
                "phases": {"coverage": {"enabled": False}},
            }
        ],
    }
)


@contextlib.contextmanager
def _connections_kept():
    """Django closes the database connection at the end of each request; in a test that would end the
    test's transaction (Django's own test client disconnects these signal handlers in the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _wsgi_app():
    from django.core.wsgi import get_wsgi_application

    handler = get_wsgi_application()

    def app(environ, start_response):
        with _connections_kept():
            result = handler(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                result.close()
        return [body]

    return app


@pytest.fixture(autouse=True)
def _test_host_and_rates(settings, monkeypatch):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the WSGI client's Host
    for scope in ("token", "anon", "auth"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")


@pytest.fixture
def world(db):
    """Tokens by role, and objects for the generated requests to act on (by collection)."""
    superuser = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    agent = AgentFactory()
    organization = OrganizationFactory()
    requester = CustomerFactory(membership__organization=organization)
    tickets = []
    for severity in ("S1", "S2", "S3"):
        ticket = services.ticket_create(
            requester=requester,
            subject=f"{severity} ticket",
            description="For the generated requests",
            severity=severity,
            candidates=[{"name": "Ada", "email": "ada@example.com"}],
        )
        services.ticket_reply(ticket=ticket, author=agent, body="Looking")
        services.ticket_add_note(ticket=ticket, author=agent, body="A note")
        services.attachment_add(
            ticket=ticket, uploaded_by=requester, upload=SimpleUploadedFile("shot.png", PNG)
        )
        tickets.append(ticket)
    calendar = BusinessCalendar.objects.create(name="Support EU", timezone="Europe/Dublin")
    BusinessHours.objects.create(calendar=calendar, weekday=0, start="09:00", end="17:00")
    return {
        "keys": {
            role: ApiToken.objects.issue(user=user, name="schemathesis")[1]
            for role, user in (("superuser", superuser), ("agent", agent), ("customer", requester))
        },
        "tickets": tickets[1].reference,
        "calendars": calendar.pk,
        "sla-policies": SlaPolicy.objects.create(name="Premium", calendar=calendar).pk,
        "holidays": Holiday.objects.create(calendar=calendar, date="2027-03-17", name="St Patrick's Day").pk,
        "organizations": organization.pk,
        "users": requester.pk,
        # /api/v1/auth/tokens/{id}/: a token of its own, so revoking it leaves the requests' keys alone.
        "auth": ApiToken.objects.issue(user=superuser, name="to revoke")[0].pk,
        "articles": Article.objects.get(slug="how-can-customers-view-the-ticket-status-of-their-requests").pk,
        "webhooks": WebhookSubscription.objects.create(
            url="https://hooks.example.com/a", secret="x" * 20, events=["ticket.created"]
        ).pk,
    }


#: Request body fields that name another object, and the collection it is in.
_REFERENCES = {"requester": "users", "calendar": "calendars", "organization": "organizations"}


def aim(case, world, role) -> None:
    """Point a valid generated request at objects that exist, so that it gets past the 404 (random ids
    find nothing) and the 400 of a missing requester or wrong password to the code that does the work;
    invalid requests are sent as generated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    collection = case.operation.path.split("/")[3]  # /api/v1/<collection>/...
    for name in ("reference", "id"):
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = world[collection]
    if isinstance(case.body, dict):
        for name, target in _REFERENCES.items():
            if isinstance(case.body.get(name), int):
                case.body[name] = world[target]
        # An agent opens a ticket for a customer, whom the schema cannot require (customers name nobody).
        if role == "agent" and case.operation.label == "POST /api/v1/tickets/":
            case.body.setdefault("requester", world["users"])
        if case.operation.label == "POST /api/v1/auth/token/":
            case.body.update(username="root", password=PASSWORD)


def _load_schema():
    from django.test import override_settings

    with override_settings(ALLOWED_HOSTS=["localhost"]):
        return schemathesis.openapi.from_wsgi("/api/schema/", _wsgi_app(), config=CONFIG)


# Loaded while the module is collected: one pytest test per operation ("[GET /api/v1/tickets/]").
schema = _load_schema()


HYPOTHESIS = settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def call_and_validate(case, world, role) -> None:
    aim(case, world, role)
    case.call_and_validate(headers={"Authorization": f"Token {world['keys'][role]}"}, checks=CHECKS)


def is_ticket_operation(ctx) -> bool:
    """The operations customers reach (the others need a superuser)."""
    return ctx.operation.path.startswith("/api/v1/tickets/")


# Both tests filter with `exclude`: `include` would not narrow this schema, whose per-operation config adds
# a filter that includes every operation. Who asks is a parametrization: it also gives each item its id
# (with pytest 9, schemathesis puts the operation in the test id only when the test is parametrized):
# "[GET /api/v1/tickets/][agent]".
@schema.exclude(lambda ctx: not is_ticket_operation(ctx)).parametrize()
@pytest.mark.parametrize("role", ["agent", "customer"])
@HYPOTHESIS
def test_the_ticket_api_keeps_its_contract(case, world, role):
    call_and_validate(case, world, role)


@schema.exclude(is_ticket_operation).parametrize()
@pytest.mark.parametrize("role", ["superuser"])
@HYPOTHESIS
def test_the_rest_of_the_api_keeps_its_contract(case, world, role):
    call_and_validate(case, world, role)


#: Requests the fuzzer found breaking the contract: (role, operation, path parameters, body, status).
FOUND = {
    # A customer's change of a field other than `status` is refused naming the field, which the schema did
    # not document for 403 (it promised `{"detail"}`).
    "customer changes the subject": (
        "customer",
        ("/api/v1/tickets/{reference}/", "PATCH"),
        {"reference": "tickets"},
        {"subject": "Mine now"},
        403,
    ),
    # An id no route takes (the router's ids have no "."; references no control characters) answered
    # Django's HTML 404 page.
    "an id with a dot": ("superuser", ("/api/v1/calendars/{id}/", "DELETE"), {"id": "-2.9e-192"}, None, 404),
    "a reference with a control character": (
        "agent",
        ("/api/v1/tickets/{reference}/events/", "GET"),
        {"reference": "\x84"},
        None,
        404,
    ),
    "a reference with a line break": (
        "customer",
        ("/api/v1/tickets/{reference}/", "GET"),
        {"reference": "A\n"},
        None,
        404,
    ),
}


@pytest.mark.parametrize(("role", "operation", "parameters", "body", "expected"), FOUND.values(), ids=FOUND)
def test_requests_the_fuzzer_found_keep_the_contract(world, role, operation, parameters, body, expected):
    path, method = operation
    parameters = {name: world.get(value, value) for name, value in parameters.items()}
    body = {"body": body, "media_type": "application/json"} if body else {}
    case = schema[path][method].Case(path_parameters=parameters, **body)

    response = case.call_and_validate(
        headers={"Authorization": f"Token {world['keys'][role]}"}, checks=CHECKS
    )

    assert response.status_code == expected
    headers = {name.lower(): values for name, values in response.headers.items()}
    assert headers["content-type"][0].startswith("application/json")


def test_an_api_address_without_its_slash_is_still_redirected(client):
    response = client.get("/api/v1/tickets")

    assert response.status_code == 301 and response["Location"] == "/api/v1/tickets/"


#: Query strings a penetration test found answering 500 (finding 9), with the status they answer now:
#: (role, operation, query, status). Some failed on PostgreSQL only (NUL, offsets past ±15:59).
FOUND_QUERIES = {
    "an assignee in superscript digits": ("agent", ("/api/v1/tickets/", "GET"), {"assignee": "²"}, 400),
    "a time past 9999 in UTC": (
        "agent",
        ("/api/v1/tickets/", "GET"),
        {"created_after": "9999-12-31T23:59:59-23:59"},
        400,
    ),
    "an offset PostgreSQL refuses": (
        "customer",
        ("/api/v1/tickets/", "GET"),
        {"created_before": "2030-01-01T00:00:00+23:00"},
        200,
    ),
    "a cursor with a position that is no id": (
        "agent",
        ("/api/v1/tickets/export/", "GET"),
        {"cursor": "cD1hYmM="},  # p=abc
        400,
    ),
    "a NUL in the search": ("customer", ("/api/v1/tickets/", "GET"), {"search": "\x00"}, 400),
    "a NUL in a filter": ("agent", ("/api/v1/tickets/export/", "GET"), {"status": "new\x00"}, 400),
}


@pytest.mark.parametrize(
    ("role", "operation", "query", "expected"), FOUND_QUERIES.values(), ids=FOUND_QUERIES
)
def test_queries_the_penetration_test_found_keep_the_contract(world, role, operation, query, expected):
    path, method = operation
    case = schema[path][method].Case(query=query)

    response = case.call_and_validate(
        headers={"Authorization": f"Token {world['keys'][role]}"}, checks=CHECKS
    )

    assert response.status_code == expected
    if expected == 400:
        assert list(response.json()) == list(query)  # the 400 names the parameter
