"""Fixtures for the fault tests of paging: a private Redis that a test may stop and restart, Celery
workers on it, the outbox process, and an on-call receiver that can hold a page unanswered.

- `RedisServer`: `redis-server` on 127.0.0.1:<free port> without persistence, so a restart comes back
  empty (queues, unacknowledged messages and kombu's bindings gone: the worst case). Never the shared
  Redis: stopping that one would break every other test running beside.
- `private_stack`: this process's Celery app and Django cache on a private Redis; `start_worker()` for
  real worker subprocesses and `start_outbox()` for the outbox process (`manage.py outbox`), on the test
  database (PostgreSQL) and that Redis. They all send mail into one folder (`mailbox()` reads it:
  tests/reliability/mailbox.py).
- `HoldingReceiver`: records each POST with its delivery id and what it answered; it can keep the first
  POST waiting until released, and answers nothing to a sender that is gone by then.

The classes are importable: bench/faults.py runs the long versions with them.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import mailbox
from tests.sla.conftest import (
    BASE_DIR,
    IN_CI,
    CeleryWorker,
    point_app_at,
    unique_queue,
    wait_until,
    worker_environment,
)

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_refuses(port: int) -> bool:
    """Whether a connection to the port is refused (nothing listens)."""
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# --- a private Redis ------------------------------------------------------------------------------------


class RedisServer:
    """`redis-server` on a port of its own, without persistence. `stop()` and `start()` again keep the port,
    so clients configured with `url` reconnect to the new, empty server."""

    def __init__(self, *, log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self, *, timeout: float = 10) -> RedisServer:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(self.log_path),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=timeout, message=f"redis-server on port {self.port} did not start")
        return self

    def stop(self, *, timeout: float = 10) -> None:
        """SIGTERM (Redis shuts down; nothing is saved), then until the port refuses connections."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # if frozen
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        wait_until(lambda: port_refuses(self.port), timeout=timeout, message=f"port {self.port} still open")

    def freeze(self) -> None:
        """SIGSTOP: Redis hangs, its sockets stay open (the kernel still accepts connections) and nothing
        answers: a host that stopped responding without resetting connections."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{self.log()}")
        import redis

        client = redis.Redis(host=HOST, port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- the on-call receiver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    delivery_id: str | None  # the X-Helpdesk-Delivery header
    reference: str  # the paged ticket's
    received_at: float  # time.monotonic() when the body was read
    status: int | None = None  # what was answered: None while held, or when the sender was gone
    over: bool = False  # answered, or found with its sender gone
    received_wall: float = 0.0  # time.time() when the body was read (to compare with a row's timestamp)


@dataclass
class HoldingReceiver:
    """An HTTP receiver on 127.0.0.1 (ephemeral port) that answers 200 to every POST. With `hold_first`,
    the first POST waits unanswered until `release()`; it is then answered only if its sender is still
    connected (a killed worker's socket was closed by the kernel)."""

    hold_first: bool = False
    posts: list[Post] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._server = http.server.ThreadingHTTPServer((HOST, 0), _holding_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="on-call", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/hooks/pager"

    def start(self) -> HoldingReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def release(self) -> None:
        self._released.set()

    def received(self) -> list[Post]:
        with self._changed:
            return list(self.posts)

    def answered(self) -> list[Post]:
        return [post for post in self.received() if post.status == 200]

    def wait_for(self, count: int, *, timeout: float, over: bool = False) -> list[Post]:
        """The POSTs once `count` arrived (with `over`: and their exchange is over); AssertionError after
        `timeout` seconds."""

        def enough() -> bool:
            return len([p for p in self.posts if p.over or not over]) >= count

        with self._changed:
            if not self._changed.wait_for(enough, timeout=timeout):
                raise AssertionError(
                    f"expected {count} page(s) within {timeout} s, got {len(self.posts)}: {self.posts}"
                )
            return list(self.posts)

    def _arrived(self, post: Post) -> int:
        """Record an arriving POST (status still unknown); its index."""
        with self._changed:
            self.posts.append(post)
            self._changed.notify_all()
            return len(self.posts) - 1

    def _answered(self, index: int, status: int | None) -> None:
        with self._changed:
            post = self.posts[index]
            self.posts[index] = Post(
                post.delivery_id,
                post.reference,
                post.received_at,
                status,
                over=True,
                received_wall=post.received_wall,
            )
            self._changed.notify_all()


def _sender_gone(sock: socket.socket) -> bool:
    """Whether the peer closed the connection: readable, with nothing left to read."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:  # reset
        return True


def _holding_handler(receiver: HoldingReceiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received_at, received_wall = time.monotonic(), time.time()
            reference = json.loads(body)["ticket"]["reference"]
            delivery_id = self.headers.get("X-Helpdesk-Delivery")
            index = receiver._arrived(Post(delivery_id, reference, received_at, received_wall=received_wall))
            if receiver.hold_first and index == 0:
                receiver._released.wait(timeout=60)
                if _sender_gone(self.connection):
                    self.close_connection = True
                    receiver._answered(index, None)
                    return
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver._answered(index, 200)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a prefork worker's pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


# --- the outbox process -----------------------------------------------------------------------------------


class OutboxProcess:
    """`python manage.py outbox` as a subprocess, its log in a file. Ready once it says it runs (after it
    LISTENs)."""

    def __init__(self, *, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 30) -> OutboxProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "outbox"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: self._listening(offset),
            timeout=timeout,
            message=f"the outbox did not start:\n{self.log()}",
        )
        return self

    def _listening(self, offset: int) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the outbox exited with {self.process.returncode}:\n{self.log()}")
        return b"Outbox delivering" in self.log_path.read_bytes()[offset:]

    def kill(self) -> None:
        """SIGKILL: no attempt in hand is finished, no transaction committed."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, *, timeout: float = 15) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
            raise RuntimeError(f"the outbox ignored SIGTERM for {timeout} s:\n{self.log()}") from None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# --- Celery on the private Redis --------------------------------------------------------------------------


class PrivateStack:
    """This process's Celery app (publishing, control) and cache on a private Redis; `start_worker()` adds
    a worker subprocess on the test database and that Redis, consuming the test's queues, and
    `start_outbox()` an outbox process. Their mail goes to `mail_folder` (`mailbox()`)."""

    def __init__(self, *, app, redis: RedisServer, database: dict, folder: Path, transport_options: dict):
        self.app = app
        self.redis = redis
        self.queue = unique_queue("test-faults")
        self.mail_folder = folder / "mailbox"
        self.env = worker_environment(database=database, redis_url=redis.url, queue=self.queue)
        self.env.update(
            EMAIL_BACKEND="tests.reliability.mailbox.FolderBackend", MAILBOX_DIR=str(self.mail_folder)
        )
        self.folder = folder
        self.workers: list[CeleryWorker] = []
        self.outboxes: list[OutboxProcess] = []
        point_app_at(app, redis.url, queue=self.queue, transport_options=transport_options)

    def start_worker(self, *, pool: str = "solo", concurrency: int = 1) -> CeleryWorker:
        number = len(self.workers) + 1
        worker = CeleryWorker(
            app=self.app,
            queue=self.queue,
            env=self.env,
            log_path=self.folder / f"celery-worker-{number}.log",
            pool=pool,
            concurrency=concurrency,
            name=f"{self.queue}-{number}",
        )
        self.workers.append(worker)
        return worker.start()

    def start_outbox(self) -> OutboxProcess:
        """An outbox process (several calls: one after another, on the same log)."""
        outbox = OutboxProcess(env=self.env, log_path=self.folder / "outbox.log")
        self.outboxes.append(outbox)
        return outbox.start()

    def mailbox(self) -> list:
        """Every email the workers and the outbox processes sent."""
        return mailbox.read(self.mail_folder)

    def stop(self) -> None:
        for process in [*self.workers, *self.outboxes]:
            with contextlib.suppress(Exception):
                process.stop()

    def logs(self) -> str:
        parts = [f"--- {w.hostname} ({w.log_path.name}) ---\n{w.log()}" for w in self.workers]
        if self.outboxes:
            parts.append(f"--- outbox ---\n{self.outboxes[-1].log()}")
        parts.append(f"--- redis-server ---\n{self.redis.log()}")
        return "\n".join(parts)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


_STACK = pytest.StashKey[PrivateStack]()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        _unavailable("needs the redis-server binary (apt-get install redis-server)")
    server = RedisServer(log_path=tmp_path / "redis-server.log").start()
    yield server
    server.stop()


@pytest.fixture
def private_stack(request, transactional_db, settings, tmp_path, private_redis) -> Iterator[PrivateStack]:
    """Celery (this process and its workers) and the Django cache on the private Redis. Needs PostgreSQL:
    the workers share the test database. The cache keeps the configured backend and options."""
    from django.conf import settings as django_settings
    from django.db import connection

    from helpdesk.celery import app

    if connection.vendor != "postgresql":
        _unavailable("a worker subprocess shares the test database only on PostgreSQL: set DATABASE_URL")
    settings.CACHES = {
        **django_settings.CACHES,
        "default": {**django_settings.CACHES["default"], "LOCATION": private_redis.url},
    }
    previous = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_default_queue)
    stack = PrivateStack(
        app=app,
        redis=private_redis,
        database=connection.settings_dict,
        folder=tmp_path,
        transport_options=django_settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    )
    request.node.stash[_STACK] = stack
    try:
        yield stack
    finally:
        stack.stop()
        point_app_at(app, previous[0], queue=previous[2], transport_options=previous[1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Show the workers' and Redis's logs with any failure of a test that ran them."""
    report = yield
    stack = item.stash.get(_STACK, None)
    if stack is not None and report.failed:
        report.sections.append((f"Celery workers and Redis ({report.when})", stack.logs()))
    return report
