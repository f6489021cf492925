"""Property-based checks of the whole API against its own OpenAPI document (schemathesis): for every
operation, generated requests (valid and invalid) sent through Django's WSGI application as a superuser
must never answer 5xx, and every answer must be a documented status code with a body matching the schema.

The budget is small and the generation derandomized, so the run is repeatable and takes well under a minute.
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
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from sla.models import BusinessCalendar, BusinessHours, Holiday
from tests.factories import PASSWORD, CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models.integrations import ApiToken, WebhookSubscription

User = get_user_model()

PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
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
        services.ticket_reply(ticket=ticket, author=superuser, body="Looking")
        services.ticket_add_note(ticket=ticket, author=superuser, body="A note")
        services.attachment_add(
            ticket=ticket, uploaded_by=requester, upload=SimpleUploadedFile("shot.png", PNG)
        )
        tickets.append(ticket)
    calendar = BusinessCalendar.objects.create(name="Support EU", timezone="Europe/Dublin")
    BusinessHours.objects.create(calendar=calendar, weekday=0, start="09:00", end="17:00")
    return {
        "keys": {"superuser": ApiToken.objects.issue(user=superuser, name="schemathesis")[1]},
        "tickets": tickets[1].reference,
        "calendars": calendar.pk,
        "holidays": Holiday.objects.create(calendar=calendar, date="2027-03-17", name="St Patrick's Day").pk,
        "organizations": organization.pk,
        "users": requester.pk,
        "webhooks": WebhookSubscription.objects.create(
            url="https://hooks.example.com/a", secret="x" * 20, events=["ticket.created"]
        ).pk,
    }


#: Request body fields that name another object, and the collection it is in.
_REFERENCES = {"requester": "users", "calendar": "calendars", "organization": "organizations"}


def aim(case, world) -> None:
    """Point a valid generated request at objects that exist, so that it gets past the 404 (random ids
    find nothing) to the code that does the work; invalid requests are sent as generated."""
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


def _load_schema():
    from django.test import override_settings

    with override_settings(ALLOWED_HOSTS=["localhost"]):
        return schemathesis.openapi.from_wsgi("/api/schema/", _wsgi_app(), config=CONFIG)


# Loaded while the module is collected: one pytest test per operation ("[GET /api/v1/tickets/]").
schema = _load_schema()


@schema.parametrize()
# Who asks. (This also gives each item its id: with pytest 9, schemathesis puts the operation in the test
# id only when the test is parametrized.)
@pytest.mark.parametrize("role", ["superuser"])
@settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_contract(case, world, role):
    aim(case, world)
    case.call_and_validate(headers={"Authorization": f"Token {world['keys'][role]}"}, checks=CHECKS)
