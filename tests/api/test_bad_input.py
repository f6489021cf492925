"""Bad input to the API answers 4xx naming the problem, never 5xx (penetration test, finding 9).

- JSON bodies (tickets/api/parsers.py): nesting deeper than API_JSON_MAX_DEPTH, numbers a float cannot hold
  (`1e400`), `NaN`/`Infinity`, and bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (a JSON 413 naming the limit).
- Filters and cursors (tickets/api/filters.py, the export's pagination): ids in ASCII digits only, times
  turned into UTC while checked, a cursor that is not ours: 400 naming the parameter.
- A NUL in a query string or form field (helpdesk/parameters.py): 400 naming the parameter.

Several of these failed only on PostgreSQL (offsets past ±15:59, NUL in a query); CI runs them there.
"""

from __future__ import annotations

import base64
import json

import pytest
from rest_framework.test import APIClient

from tickets import services
from tickets.api.parsers import LimitedJSONParser, nesting_depth

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(agent):
    client = APIClient()
    client.force_authenticate(agent)
    return client


@pytest.fixture
def ticket(requester):
    return services.ticket_create(requester=requester, subject="Export me", description="x", severity="S3")


def post_json(client, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/json")


# --- JSON bodies ----------------------------------------------------------------------------------


def test_a_deeply_nested_body_to_the_anonymous_token_endpoint_is_a_400_naming_the_depth():
    response = post_json(APIClient(), "/api/v1/auth/token/", b"[" * 100_000)

    assert response.status_code == 400
    assert "100000 levels deep" in response.json()["detail"]


def test_a_body_nested_just_within_the_limit_is_parsed(api, settings):
    settings.API_JSON_MAX_DEPTH = 3
    response = post_json(api, "/api/v1/auth/token/", b'{"username": [["deep"]]}')

    assert response.status_code == 400
    assert "nest" not in json.dumps(response.json())  # parsed; refused by the serializer instead

    response = post_json(api, "/api/v1/auth/token/", b'{"username": [[["deep"]]]}')
    assert response.status_code == 400
    assert "at most 3" in response.json()["detail"]


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1e400", "1e400 is out of range"),
        ("-1e400", "out of range"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
    ],
)
def test_a_number_a_float_cannot_hold_is_a_400_naming_it(api, requester, number, says):
    body = f'{{"subject": "a", "description": "b", "severity": "S3", "requester": {number}}}'

    response = post_json(api, "/api/v1/tickets/", body.encode())

    assert response.status_code == 400
    assert says in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert nesting_depth('{"a": "[[[[[[\\"[[[", "b": [1, {"c": "]]]}"}]}') == 3
    assert nesting_depth("42") == 0


def test_a_json_body_over_the_memory_limit_is_a_json_413_naming_the_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_json(api, "/api/v1/tickets/", b'{"subject": "' + b"x" * 2000 + b'"}')

    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["max_body_bytes"] == 1000
    assert "1,000 bytes" in response.json()["detail"]


def test_the_parser_itself_refuses_a_body_over_the_limit(settings):
    import io

    from tickets.api.parsers import BodyTooLarge

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    with pytest.raises(BodyTooLarge):
        LimitedJSONParser().parse(io.BytesIO(b'"' + b"x" * 20 + b'"'), "application/json", {})


def test_a_form_body_over_the_memory_limit_is_a_json_413_too(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api.post("/api/v1/auth/token/", {"username": "x" * 2000}, format="multipart")

    assert response.status_code == 413
    assert response.json()["max_body_bytes"] == 1000


# --- filters and cursors --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "١٢", "abc", "9" * 30])
def test_an_assignee_that_is_no_ascii_id_is_a_400_naming_it(api, value):
    response = api.get("/api/v1/tickets/", {"assignee": value})

    assert response.status_code == 400
    assert list(response.json()) == ["assignee"]


@pytest.mark.parametrize("value", ["me", "none", "12"])
def test_the_assignee_filter_still_takes_ids_me_and_none(api, value):
    assert api.get("/api/v1/tickets/", {"assignee": value}).status_code == 200


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "٢٠٢٦-01-01T00:00:00Z"]
)
@pytest.mark.parametrize("name", ["created_after", "created_before", "due_before"])
def test_a_time_out_of_range_or_not_in_ascii_is_a_400_naming_it(api, name, value):
    response = api.get("/api/v1/tickets/", {name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_a_time_with_an_offset_postgresql_cannot_take_is_turned_into_utc(api, ticket):
    # PostgreSQL refuses offsets past ±15:59 ("time zone displacement out of range"): a 500 there.
    response = api.get("/api/v1/tickets/", {"created_after": "2000-01-01T00:00:00+23:00"})

    assert response.status_code == 200
    assert [row["reference"] for row in response.json()["results"]] == [ticket.reference]


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [_cursor("p=abc"), _cursor("p=1%00"), _cursor("p=%C2%B2"), _cursor("p=" + "9" * 30), _cursor("r=x"), "²"],
)
def test_a_cursor_that_is_not_ours_is_a_400_naming_it(api, ticket, cursor):
    response = api.get("/api/v1/tickets/export/", {"cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_the_export_still_follows_its_own_cursors(api, requester, ticket):
    services.ticket_create(requester=requester, subject="Second", description="x", severity="S3")

    first = api.get("/api/v1/tickets/export/", {"page_size": 1}).json()
    second = api.get(first["next"]).json()

    assert [len(first["results"]), len(second["results"])] == [1, 1]
    assert first["results"][0]["reference"] != second["results"][0]["reference"]


# --- NUL in parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["search=%00", "severity=S1%00", "page=%00", "x%00=1"])
def test_a_nul_in_an_api_query_string_is_a_json_400_naming_the_parameter(api, query):
    response = api.get(f"/api/v1/tickets/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    ((name, messages),) = response.json().items()
    assert name == query.split("=")[0].replace("%00", "\x00")
    assert "NUL" in messages[0]


def test_a_nul_in_an_api_form_field_is_a_json_400_naming_it():
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "ada\x00", "password": "x"}, format="multipart"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
