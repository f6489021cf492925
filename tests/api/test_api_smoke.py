"""A first pass over the API's main paths (the thorough suites live beside this file)."""

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD


@pytest.fixture
def api():
    return APIClient()


def token_for(api, user):
    response = api.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_customer_opens_and_follows_a_ticket(api, requester, agent):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(api, requester)}")
    created = api.post(
        "/api/v1/tickets/",
        {
            "subject": "Greenhouse sync stopped",
            "description": "No new candidates since 9am",
            "severity": "S2",
            "affected_role": "coordinator",
            "interview": {
                "candidates": [{"name": "Ada", "email": "ada@example.com"}],
                "interviewers": ["Alan"],
                "position": "SRE",
                "starts_at": "2026-12-01T17:00:00Z",
                "ends_at": "2026-12-01T18:00:00Z",
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["reference"].startswith("HD-") and body["channel"] == "api" and body["severity"] == "S2"
    assert body["interview"]["candidates"] == [{"name": "Ada", "email": "ada@example.com"}]
    assert body["sla"]["first_response"]["state"] == "active" and body["sla"]["first_response"]["due_at"]
    assert body["sla"]["next_update"] is None
    listed = api.get("/api/v1/tickets/").json()
    assert listed["count"] == 1 and listed["results"][0]["reference"] == body["reference"]
    assert api.get(f"/api/v1/tickets/{body['reference']}/").status_code == 200
    reply = api.post(f"/api/v1/tickets/{body['reference']}/messages/", {"body": "Any news?"}, format="json")
    assert reply.status_code == 201
    note = api.post(
        f"/api/v1/tickets/{body['reference']}/messages/", {"body": "x", "internal": True}, format="json"
    )
    assert note.status_code == 400 and "internal" in note.json()
    refused = api.patch(f"/api/v1/tickets/{body['reference']}/", {"severity": "S1"}, format="json")
    assert refused.status_code == 403 and "severity" in refused.json()
    resolved = api.patch(f"/api/v1/tickets/{body['reference']}/", {"status": "resolved"}, format="json")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"


def test_idempotent_create(api, requester):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(api, requester)}")
    payload = {"subject": "Once", "description": "only once"}
    first = api.post("/api/v1/tickets/", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = api.post("/api/v1/tickets/", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    other = api.post(
        "/api/v1/tickets/", {**payload, "subject": "Twice"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert other.status_code == 422
    assert api.get("/api/v1/tickets/").json()["count"] == 1


def test_bad_input_names_the_field(api, requester):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(api, requester)}")
    response = api.post("/api/v1/tickets/", {"subject": "", "severity": "S9"}, format="json")
    assert response.status_code == 400
    assert {"subject", "severity", "description"} <= set(response.json())


def test_other_organization_is_404(api, requester, outsider):
    from tickets.services import ticket_create

    theirs = ticket_create(requester=outsider, subject="x", description="y")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(api, requester)}")
    assert api.get(f"/api/v1/tickets/{theirs.reference}/").status_code == 404
    assert api.get(f"/api/v1/tickets/{theirs.reference}/messages/").status_code == 404


def test_schema_and_docs(api, db):
    assert api.get("/api/schema/").status_code == 200
    assert api.get("/api/docs/").status_code == 200


def test_the_openapi_document_validates_strictly(api, db):
    """openapi-spec-validator, stricter than drf-spectacular's own check (which let a `format: email` with
    a default of "" through); and writes take JSON only, which can carry their nested data (hours, targets,
    the interview), except the uploads (multipart) and the token request (flat: JSON or a form)."""
    from openapi_spec_validator import validate

    document = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    validate(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            types = set(operation["requestBody"]["content"])
            if path.endswith("/attachments/"):
                assert types == {"multipart/form-data"}, path
            elif path == "/api/v1/auth/token/":
                assert "application/json" in types, path
            else:
                assert types == {"application/json"}, (method, path, types)
