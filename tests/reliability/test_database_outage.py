"""The database cut off under a running site: gunicorn (tests/reliability/web_server.py) reaches
PostgreSQL through a proxy in this process, which the tests cut, blackhole and restore.

While the database is away every request answers 503 with Retry-After at once (JSON naming
`database_unavailable` under /api/, a short page for people elsewhere, /healthz too), never a traceback;
a create cut off in the middle of its transaction leaves nothing; once the database is back the same
gunicorn (master and workers) answers again, and the create retried with its Idempotency-Key makes one
ticket. These tests check the test process's own view of the database directly, not through the proxy.
Below them, in-process tests of which failures count as the database's.
"""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.test import RequestFactory

from helpdesk.errors import server_error
from tests.conftest import IN_CI
from tests.reliability.web_server import HOST, Reply, TcpProxy, WebServer
from tests.sla.conftest import database_url, redis_reachable, wait_until
from tickets.api.errors import exception_handler
from tickets.models import Event, Message, Ticket
from tickets.models.integrations import ApiToken, IdempotencyRecord

#: The server's DATABASE_CONNECT_TIMEOUT: short, so the blackhole test is quick.
CONNECT_TIMEOUT = 2
TICKETS = "/api/v1/tickets/"
PORTAL = "/portal/"
#: What a 503 must never show: internals.
LEAKS = ("Traceback", "OperationalError", "psycopg", "SELECT ", "INSERT ", "tickets_ticket", "5432")


@pytest.fixture
def postgres(transactional_db) -> dict:
    def unavailable(reason: str) -> None:
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)

    if connection.vendor != "postgresql":
        unavailable("gunicorn shares the test database only on PostgreSQL: set DATABASE_URL")
    if not redis_reachable(settings.REDIS_URL):
        unavailable(f"Redis at {settings.REDIS_URL} does not answer")
    return connection.settings_dict


@pytest.fixture
def proxy(postgres):
    with TcpProxy((postgres["HOST"] or HOST, int(postgres["PORT"] or 5432))) as proxy:
        yield proxy


@pytest.fixture
def server(postgres, proxy, shipped_defaults, tmp_path):
    with WebServer(
        database_url=database_url({**postgres, "HOST": HOST, "PORT": proxy.port}),
        redis_url=settings.REDIS_URL,
        log_path=tmp_path / "gunicorn.log",
        extra_env={"DATABASE_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)},
    ) as server:
        yield server


def api_headers(user, **extra: str) -> dict[str, str]:
    _, key = ApiToken.objects.issue(user=user, name="outage test")
    return {"Authorization": f"Token {key}", "Accept": "application/json", **extra}


def explain(reply: Reply, server: WebServer) -> str:
    return f"{reply.status} {reply.text[:500]}\n--- gunicorn log (end) ---\n{server.log()[-4000:]}"


def assert_unavailable_json(reply: Reply, server: WebServer) -> None:
    assert reply.status == 503, explain(reply, server)
    assert reply.header("Content-Type") == "application/json"
    assert reply.header("Retry-After") == "30"
    body = reply.json()
    assert body["code"] == "database_unavailable"
    assert "Retry-After" in body["detail"]
    assert not any(leak in reply.text for leak in LEAKS), reply.text


def assert_unavailable_page(reply: Reply, server: WebServer) -> None:
    assert reply.status == 503, explain(reply, server)
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    assert reply.header("Retry-After") == "30" and reply.header("Cache-Control") == "no-store"
    assert "Support is temporarily unavailable" in reply.text
    assert "Nothing you sent was lost or saved half-way. Please try again in a minute." in reply.text
    assert not any(leak in reply.text for leak in LEAKS), reply.text
    # The page's own policy: its inline styles by hash, nothing else.
    assert reply.header("Content-Security-Policy").startswith("default-src 'none'; style-src 'sha256-")


@pytest.mark.redis
def test_a_database_outage_answers_503_and_the_site_recovers_without_a_restart(
    server, proxy, requester, agent
):
    customer, console = server.sign_in(requester), server.sign_in(agent)
    api = api_headers(requester)
    payload = {"subject": "Interview invites are not sent", "description": "Since 9:00.", "severity": "S2"}
    create = {**api, "Idempotency-Key": "outage-create-1"}

    page = server.request("GET", PORTAL, headers=customer)
    assert page.status == 200 and "My tickets" in page.text, explain(page, server)
    listed = server.request("GET", TICKETS, headers=api)
    assert listed.status == 200 and listed.json()["count"] == 0, explain(listed, server)
    # Every worker holds a database connection, which the cut will break under it.
    wait_until(
        lambda: server.request("GET", "/healthz").status == 200 and proxy.live_connections >= server.workers,
        timeout=10,
        message="the workers did not all connect to the database",
    )
    master, workers = server.pid, server.worker_pids()

    # The connection dies in the middle of the create's transaction, as the ticket row goes out.
    tripped = proxy.cut_on(b'INSERT INTO "tickets_ticket"')
    assert_unavailable_json(server.request("POST", TICKETS, body=payload, headers=create), server)
    assert tripped.wait(timeout=5), "the create was not cut at its INSERT"

    # While the database is away, every kind of request answers 503 at once.
    started = time.monotonic()
    assert_unavailable_page(server.request("GET", PORTAL, headers=customer), server)
    assert_unavailable_page(server.request("GET", "/admin/", headers=console), server)
    assert_unavailable_json(server.request("GET", TICKETS, headers=api), server)
    assert_unavailable_json(server.request("POST", TICKETS, body=payload, headers=create), server)
    health = server.request("GET", "/healthz")
    assert health.status == 503 and health.header("Retry-After") == "30"
    assert health.json() == {
        "status": "error",
        "database": "error: OperationalError",
        "broker": "ok",
        "channel_layer": "ok",
    }
    assert time.monotonic() - started < 5  # refused connections fail fast: no request waits
    # Nothing was saved half-way: the transaction that lost its connection rolled back whole.
    assert not Ticket.objects.exists() and not Event.objects.exists() and not Message.objects.exists()
    assert not IdempotencyRecord.objects.exists()

    proxy.restore()
    restored = time.monotonic()
    wait_until(
        lambda: server.request("GET", PORTAL, headers=customer).status == 200,
        timeout=10,
        message="the portal did not recover within 10 s of the database's return",
    )
    recovery = time.monotonic() - restored
    assert server.request("GET", "/admin/", headers=console).status == 200
    assert server.request("GET", TICKETS, headers=api).status == 200
    assert server.request("GET", "/healthz").status == 200

    # The client's retry with its key creates the ticket once; a further retry replays it.
    created = server.request("POST", TICKETS, body=payload, headers=create)
    assert created.status == 201, explain(created, server)
    replayed = server.request("POST", TICKETS, body=payload, headers=create)
    assert replayed.status == 201 and replayed.header("Idempotent-Replayed") == "true"
    assert replayed.json() == created.json()
    assert Ticket.objects.count() == 1 and Ticket.objects.get().reference == created.json()["reference"]
    # Recovered without a restart: the same master and the same workers, which reconnected.
    assert server.process.poll() is None and server.pid == master
    assert server.worker_pids() == workers
    assert recovery < 10


@pytest.mark.redis
def test_a_database_host_that_swallows_packets_answers_503_within_the_connect_timeout(
    server, proxy, requester
):
    api = api_headers(requester)
    assert server.request("GET", TICKETS, headers=api).status == 200

    proxy.blackhole()
    for path, headers in (("/healthz", {}), (TICKETS, api), (PORTAL, server.sign_in(requester))):
        started = time.monotonic()
        reply = server.request("GET", path, headers=headers, timeout=30)
        waited = time.monotonic() - started
        assert reply.status == 503, explain(reply, server)
        # One connection attempt's timeout, not a hang (nor gunicorn's 30 s worker timeout).
        assert CONNECT_TIMEOUT - 0.5 < waited < CONNECT_TIMEOUT + 3, f"{path} took {waited:.1f} s"

    proxy.restore()
    wait_until(lambda: server.request("GET", TICKETS, headers=api).status == 200, timeout=10)


# --- in process: which failures are the database's, and that the answer itself needs no database -----------
# No `db` fixture: pytest-django refuses any query here, so these also prove the 503 needs no database.


def handled(exc: BaseException, path: str):
    """What `handler500` answers while `exc` is being handled, as Django calls it."""
    try:
        raise exc
    except type(exc):
        return server_error(RequestFactory().get(path))


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
        psycopg.OperationalError("connection failed: Connection refused"),
    ],
)
def test_database_errors_answer_503_pages_without_touching_the_database(exc):
    response = handled(exc, PORTAL)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert b"Support is temporarily unavailable" in response.content
    assert b"support@" in response.content  # where to write meanwhile, from the settings


def test_an_error_raised_while_handling_a_database_error_still_answers_503():
    try:
        raise OperationalError("the connection is lost")
    except OperationalError:
        response = handled(AttributeError("'NoneType' object has no attribute 'cursor'"), "/admin/")
    assert response.status_code == 503


def test_other_errors_stay_500s_in_the_api_s_json_shape_under_api():
    response = handled(ValueError("a bug"), PORTAL)
    assert response.status_code == 500 and not response.has_header("Retry-After")
    api = handled(ValueError("a bug in the serializer"), TICKETS)
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert json.loads(api.content)["code"] == "server_error"
    assert b"serializer" not in api.content  # nothing of the exception reaches the client


def test_the_api_answers_json_even_when_drf_handles_the_error():
    # DRF's exception handler sees API errors first (and in DEBUG mode, where handler500 is not used).
    request = RequestFactory().get(TICKETS, HTTP_ACCEPT="text/html")
    response = exception_handler(OperationalError("timeout expired"), {"request": request})
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert json.loads(response.content)["code"] == "database_unavailable"
