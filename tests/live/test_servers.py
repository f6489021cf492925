"""Live updates end to end, across processes, on real servers: an event committed by ANOTHER process (a
`manage.py shell` subprocess, as the Celery worker or beat would commit one) reaches a WebSocket client
connected to the web server.

- Production: gunicorn with uvicorn workers (the web service's command) on the test's PostgreSQL and a
  real Redis; the other process publishes through channels-redis.
- Embedded: uvicorn alone (the `make run` server) on a SQLite file and no Redis; the web process reads
  the other process's rows itself (tickets/live/layers.py).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.reliability.web_server import BASE_DIR, WebServer
from tests.sla.conftest import IN_CI, database_url, redis_reachable, wait_until
from tickets.models import Event
from tickets.services import ticket_create

HOST = "127.0.0.1"
DEADLINE = 10.0


class AsgiWebServer(WebServer):
    """The web service's server: gunicorn with uvicorn workers serving the ASGI application."""

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("helpdesk.wsgi:application")] = "helpdesk.asgi:application"
        return [*command, "--worker-class", "helpdesk.web_worker.WebWorker"]


def in_another_process(env: dict[str, str], code: str) -> str:
    """Run Python `code` in `manage.py shell` with `env`; its last line of output."""
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


REPLY_AND_NOTE = """
from django.contrib.auth import get_user_model
from tickets.models import Ticket
from tickets.services import ticket_add_note, ticket_reply
ticket = Ticket.objects.get(pk={ticket})
agent = get_user_model().objects.get(pk={agent})
ticket_add_note(ticket=ticket, author=agent, body="Internal: the customer's SSO is misconfigured")
print(ticket_reply(ticket=ticket, author=agent, body="Answered from another process").pk)
"""


def receive_reply(client, message_id: int) -> list[dict]:
    """What the socket receives until the event of reply `message_id` (AssertionError at the deadline)."""
    received, deadline = [], time.monotonic() + DEADLINE
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no reply {message_id} within {DEADLINE} s; got {received}"
        payload = json.loads(client.recv(timeout=remaining))
        received.append(payload)
        if payload.get("message", {}).get("id") == message_id:
            return received


def open_socket(port: int, path: str, cookie_header: str):
    from websockets.sync.client import connect

    return connect(
        f"ws://{HOST}:{port}{path}",
        origin=f"http://{HOST}",
        additional_headers={"Cookie": cookie_header},
        open_timeout=DEADLINE,
    )


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_defaults")
def test_an_event_committed_by_another_process_reaches_a_socket_through_redis(tmp_path, requester, agent):
    if connection.vendor != "postgresql" or not redis_reachable(settings.REDIS_URL):
        reason = "the server and the other process share the test database on PostgreSQL, and Redis"
        pytest.fail(f"CI=true: {reason}") if IN_CI else pytest.skip(reason)
    ticket = ticket_create(requester=requester, subject="Invites bounce", description="All of them.")
    prefix = {"LIVE_CHANNEL_PREFIX": f"test-live-{uuid.uuid4().hex[:12]}"}
    with AsgiWebServer(
        database_url=database_url(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        log_path=tmp_path / "gunicorn.log",
        extra_env=prefix,
    ) as server:
        cookie = server.sign_in(requester)["Cookie"]
        with open_socket(server.port, f"/ws/tickets/{ticket.pk}/", cookie) as client:
            reply_id = int(
                in_another_process(
                    server.environment(), REPLY_AND_NOTE.format(ticket=ticket.pk, agent=agent.pk)
                )
            )
            received = receive_reply(client, reply_id)
        assert server.request("GET", "/healthz").json()["channel_layer"] == "ok"
    kinds = [payload["kind"] for payload in received]
    assert Event.Kind.NOTE_ADDED not in kinds and "misconfigured" not in str(received)
    assert received[-1]["message"]["body"] == "Answered from another process"


SET_UP_EMBEDDED = """
import json
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from tests.factories import AgentFactory, CustomerFactory
from tickets.services import ticket_create
customer = CustomerFactory()
agent = AgentFactory()
ticket = ticket_create(requester=customer, subject="Invites bounce", description="All of them.")
session = SessionStore()
session[SESSION_KEY] = str(customer.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = customer.get_session_auth_hash()
session.create()
print(json.dumps({"ticket": ticket.pk, "agent": agent.pk, "session": session.session_key}))
"""


def test_an_event_committed_by_another_process_reaches_a_socket_with_no_redis(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.reliability.server_settings",
        VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        ALLOWED_HOSTS=HOST,
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        BEHIND_TLS_PROXY="false",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    world = json.loads(in_another_process(env, SET_UP_EMBEDDED))
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "uvicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "helpdesk.asgi:application",
            "--host",
            HOST,
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _answers(port), timeout=30, message="uvicorn did not start")
        cookie = f"{settings.SESSION_COOKIE_NAME}={world['session']}"
        with open_socket(port, f"/ws/tickets/{world['ticket']}/", cookie) as client:
            code = REPLY_AND_NOTE.format(ticket=world["ticket"], agent=world["agent"])
            reply_id = int(in_another_process(env, code))
            received = receive_reply(client, reply_id)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
    assert Event.Kind.NOTE_ADDED not in [payload["kind"] for payload in received]
    assert received[-1]["message"]["body"] == "Answered from another process"
    assert "error" not in Path(tmp_path / "uvicorn.log").read_text().lower()


def _answers(port: int) -> bool:
    import http.client

    try:
        connection_ = http.client.HTTPConnection(HOST, port, timeout=2)
        connection_.request("GET", "/healthz", headers={"Host": HOST})
        return connection_.getresponse().status == 200
    except OSError:
        return False
