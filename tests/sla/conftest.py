"""Fixtures for SLA tests against real services: a webhook receiver, and a Celery worker subprocess that
works on the test database (PostgreSQL) through Redis.

`celery_worker_process` runs `celery -A helpdesk worker` on a queue of its own, with the environment of
a deployed worker (DEBUG=false, no PYTEST_VERSION), and points this process's Celery app at the same
broker and queue while the test runs. The tests that use it are transactional (the worker sees committed
rows only) and marked `redis`. The classes are importable (the S1 latency bench reuses them).

Choose the pool with indirect parametrization, e.g. for concurrency tests::

    @pytest.mark.parametrize("celery_worker_process", [{"pool": "prefork", "concurrency": 2}], indirect=True)
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

#: A port nothing listens on: publishing there fails at once (connection refused).
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
#: As settings.py configures the Redis broker (tests/conftest.py resets it to memory://).
REDIS_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, message: str = ""):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


# --- the webhook receiver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float  # time.monotonic() when the body was read
    status: int  # what the receiver answered

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (ephemeral port) in a thread. Records every POST and answers 200, or
    500 to the first `fail_first` ones; `delay` seconds of thinking before each answer. `on_request` is
    called with each request as it is recorded."""

    def __init__(
        self,
        *,
        fail_first: int = 0,
        delay: float = 0.0,
        on_request: Callable[[ReceivedRequest], None] | None = None,
    ):
        self.fail_first = fail_first
        self.delay = delay
        self.on_request = on_request
        self.requests: list[ReceivedRequest] = []
        self._changed = threading.Condition()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/pager"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self) -> list[ReceivedRequest]:
        with self._changed:
            return list(self.requests)

    def successes(self) -> list[ReceivedRequest]:
        return [r for r in self.received() if r.status == 200]

    def wait_for(self, count: int, *, timeout: float) -> list[ReceivedRequest]:
        """The requests once at least `count` arrived; AssertionError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                raise AssertionError(
                    f"expected {count} webhook request(s) within {timeout} s, got {len(self.requests)}"
                )
            return list(self.requests)

    def _record(self, headers: dict[str, str], body: bytes, received_at: float) -> int:
        with self._changed:
            failed = sum(1 for r in self.requests if r.status != 200)
            status = 500 if failed < self.fail_first else 200
            request = ReceivedRequest(headers, body, received_at, status)
            self.requests.append(request)
            self._changed.notify_all()
        if self.on_request is not None:
            self.on_request(request)
        return status


def _handler_for(receiver: WebhookReceiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received_at = time.monotonic()
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = receiver._record(headers, body, received_at)
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --- the Celery worker subprocess ------------------------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL (django-environ) for a PostgreSQL connection's settings, e.g. the test database."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or ""
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def point_app_at(app, broker_url: str, *, queue: str, transport_options: dict) -> None:
    """Reconfigure this process's Celery app: broker and default queue. The connection pool, producer
    pool and queue declarations are cached for the previous broker and queue, so they are dropped (not
    closed: kombu's pool registry hands the same pool out again for the same broker)."""
    app._pool = None
    app.__dict__.pop("amqp", None)
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = transport_options
    app.conf.task_default_queue = queue
    app.conf.task_routes = {"sla.tasks.deliver_escalation": {"queue": escalation_queue(queue)}}


def escalation_queue(queue: str) -> str:
    """The escalations' queue that goes with a default queue (as helpdesk/settings.py names it)."""
    return f"{queue}.escalations"


def redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


class CeleryWorker:
    """`python -m celery -A helpdesk worker` as a subprocess consuming one queue, its log in a file."""

    def __init__(
        self,
        *,
        app,
        queue: str,
        env: dict[str, str],
        log_path: Path,
        pool: str = "solo",
        concurrency: int = 1,
        consume: list[str] | None = None,
        name: str | None = None,
    ):
        self.app = app
        self.queue = queue
        # By default both queues: the tasks and the escalations routed to a queue of their own.
        self.consume = consume or [queue, escalation_queue(queue)]
        self.hostname = f"{name or queue}@localhost"
        self.env = env
        self.log_path = log_path
        self.pool = pool
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", f"--pool={self.pool}"]
        if self.pool != "solo":
            command.append(f"--concurrency={self.concurrency}")
        return [
            *command,
            "--loglevel=INFO",
            "-Q",
            ",".join(self.consume),
            "-n",
            self.hostname,
            "--without-mingle",
            "--without-gossip",
        ]

    def start(self, *, timeout: float = 30) -> CeleryWorker:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, *, timeout: float) -> None:
        """Until the worker answers a ping addressed to it (it consumes its queue by then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Celery worker exited with {self.process.returncode} while starting:\n{self.log()}"
                )
            if self.app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        raise RuntimeError(f"Celery worker not ready within {timeout} s:\n{self.log()}")

    def queued(self) -> int:
        """Messages waiting in the broker queue (not yet taken by the worker)."""
        total = 0
        with self.app.connection_for_write() as connection:
            for queue in self.consume:
                # Redis keeps no empty queue: "no queue" means empty.
                with contextlib.suppress(*connection.channel_errors):
                    total += connection.default_channel.queue_declare(queue, passive=True).message_count
        return total

    def busy(self) -> bool:
        """Whether anything is queued, running, reserved or scheduled (ETA, e.g. a retry's countdown)."""
        if self.queued():
            return True
        inspect = self.app.control.inspect(destination=[self.hostname], timeout=2)
        for tasks in (inspect.active(), inspect.reserved(), inspect.scheduled()):
            if tasks is None or any(tasks.values()):  # None: no answer (the solo pool is mid-task)
                return True
        return False

    def wait_idle(self, *, timeout: float = 20) -> None:
        """Until the queue is empty and the worker has nothing in hand, seen twice in a row."""
        idle_in_a_row = 0
        deadline = time.monotonic() + timeout
        while idle_in_a_row < 2:
            if time.monotonic() >= deadline:
                raise AssertionError(f"Celery worker still busy after {timeout} s")
            idle_in_a_row = 0 if self.busy() else idle_in_a_row + 1
            if idle_in_a_row < 2:
                time.sleep(0.1)

    @contextlib.contextmanager
    def broker_unreachable(self) -> Iterator[None]:
        """In this process only: publishing fails as if the broker were down; the worker is untouched."""
        broker_url = self.app.conf.broker_url
        point_app_at(self.app, UNREACHABLE_BROKER, queue=self.queue, transport_options={})
        try:
            yield
        finally:
            point_app_at(self.app, broker_url, queue=self.queue, transport_options=REDIS_TRANSPORT_OPTIONS)

    def purge(self) -> None:
        """Drop what is left in the queue, and Redis's binding tables of it (they outlive the queue)."""
        with self.app.connection_for_write() as connection:
            channel = connection.default_channel
            for queue in self.consume:
                channel.queue_purge(queue)
                if hasattr(channel, "keyprefix_queue"):  # kombu's Redis transport
                    prefixes = [
                        channel.keyprefix_queue,
                        getattr(channel, "keyprefix_binding_permanent", None),
                    ]
                    channel.client.delete(*(prefix % (queue,) for prefix in prefixes if prefix))

    def stop(self, *, timeout: float = 15) -> int | None:
        """SIGTERM (a warm shutdown: the running task finishes), then SIGKILL if it does not exit."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
            raise RuntimeError(f"Celery worker ignored SIGTERM for {timeout} s:\n{self.log()}") from None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def worker_environment(*, database: dict, redis_url: str, queue: str) -> dict[str, str]:
    """The environment of a deployed worker, on the given database and Redis."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PYTEST_") and name not in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DATABASE_URL=database_url(database),
        REDIS_URL=redis_url,
        CELERY_QUEUE=queue,
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        # The tests' webhook receivers listen on 127.0.0.1, which a deployment refuses by default.
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
        PYTHONUNBUFFERED="1",
    )
    return env


def unique_queue(prefix: str) -> str:
    return f"{prefix}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:10]}"


# --- fixtures -----------------------------------------------------------------------------------------------

_WORKER = pytest.StashKey[CeleryWorker]()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def celery_worker_process(request, transactional_db, tmp_path) -> Iterator[CeleryWorker]:
    """A real worker on the test database and Redis; this process publishes to its queue meanwhile."""
    from django.conf import settings
    from django.db import connection

    from helpdesk.celery import app

    def unavailable(reason: str) -> None:
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)

    if connection.vendor != "postgresql":
        unavailable("a worker subprocess shares the test database only on PostgreSQL: set DATABASE_URL")
    if not settings.REDIS_URL:
        unavailable("needs Redis: set REDIS_URL")
    if not redis_reachable(settings.REDIS_URL):
        unavailable(f"Redis at {settings.REDIS_URL} does not answer")

    options = getattr(request, "param", None) or {}
    queue = unique_queue("test-sla")
    worker = CeleryWorker(
        app=app,
        queue=queue,
        env=worker_environment(database=connection.settings_dict, redis_url=settings.REDIS_URL, queue=queue),
        log_path=tmp_path / "celery-worker.log",
        pool=options.get("pool", "solo"),
        concurrency=options.get("concurrency", 1),
    )
    previous = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_default_queue)
    point_app_at(app, settings.REDIS_URL, queue=queue, transport_options=REDIS_TRANSPORT_OPTIONS)
    request.node.stash[_WORKER] = worker
    try:
        worker.start()
        yield worker
    finally:
        try:
            worker.stop()
        finally:
            with contextlib.suppress(Exception):
                worker.purge()
            point_app_at(app, previous[0], queue=previous[2], transport_options=previous[1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Show the worker's log with any failure of a test that ran one."""
    report = yield
    worker = item.stash.get(_WORKER, None)
    if worker is not None and report.failed:
        report.sections.append((f"Celery worker log ({report.when})", worker.log()))
    return report
